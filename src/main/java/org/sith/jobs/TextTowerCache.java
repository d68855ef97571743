package org.sith.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

import org.sith.checkpoint.ClipText;
import org.sith.io.Fs;
import org.sith.model.TextTower;

/**
 * The text tower of one checkpoint, loaded once per executor JVM and shared by its concurrent
 * tasks (the weights are read-only; each task has its own workspace). Keyed by path, size,
 * modification time, head count and activation, so a changed file or setting reloads it.
 */
final class TextTowerCache {
    private static String key;
    private static TextTower tower;
    private static int loads;

    private TextTowerCache() {}

    static synchronized TextTower get(String checkpoint, Configuration conf, int heads, String activation) {
        Path p = Fs.path(checkpoint);
        String k;
        try {
            FileStatus st = Fs.fs(p, conf).getFileStatus(p);
            k = st.getPath() + "|" + st.getLen() + "|" + st.getModificationTime() + "|" + heads + "|" + activation;
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
        if (!k.equals(key)) {
            tower = null; // let the old weights go before the new ones are read
            key = null;
            try (ClipText t = ClipText.open(checkpoint, conf, heads, activation)) {
                tower = TextTower.load(t);
                loads++;
            } catch (IOException e) {
                throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
            }
            key = k;
        }
        return tower;
    }

    /** How many times this JVM has read text weights (tests check it is once per checkpoint). */
    static synchronized int loads() {
        return loads;
    }
}
