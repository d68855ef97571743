package org.sith.executor;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.ClipText;
import org.sith.io.Fs;
import org.sith.model.TextTower;
import org.sith.model.TowerPrecision;
import org.sith.model.VisionTower;

/**
 * A model tower loaded once per executor JVM and shared by its concurrent tasks (the weights are
 * read-only; each task has its own workspace). Keyed by the file's path, size and modification
 * time plus the settings (the tower precision among them: a bf16 tower holds its block weights packed for
 * oneDNN instead of in f32), so a changed file or setting reloads it.
 */
public final class TowerCache<T> {
    public interface Loader<T> {
        T load(String checkpoint, Configuration conf) throws IOException;
    }

    public static final TowerCache<TextTower> TEXT = new TowerCache<>();
    public static final TowerCache<VisionTower> VISION = new TowerCache<>();

    private String key;
    private T value;
    private int loads;

    public synchronized T get(String checkpoint, Configuration conf, String settings, Loader<T> loader) {
        Path p = Fs.path(checkpoint);
        String k;
        try {
            FileStatus st = Fs.fs(p, conf).getFileStatus(p);
            k = st.getPath() + "|" + st.getLen() + "|" + st.getModificationTime() + "|" + settings;
            if (!k.equals(key)) {
                value = null; // let the old weights go before the new ones are read
                key = null;
                value = loader.load(checkpoint, conf);
                loads++;
                key = k;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
        return value;
    }

    /** How many times this JVM has read weights (tests check it is once per checkpoint). */
    public synchronized int loads() {
        return loads;
    }

    /** The executor's text tower for a task, with the task's cores given to BLAS. */
    public static TextTower textForTask(String checkpoint, Configuration conf, int heads, String activation) {
        return textForTask(checkpoint, conf, heads, activation, TowerPrecision.F32);
    }

    /** As above in {@code precision} (a bf16 tower holds its weights packed for oneDNN). */
    public static TextTower textForTask(String checkpoint, Configuration conf, int heads, String activation, TowerPrecision precision) {
        TaskCores.toBlas();
        return text(checkpoint, conf, heads, activation, precision);
    }

    public static TextTower text(String checkpoint, Configuration conf, int heads, String activation) {
        return text(checkpoint, conf, heads, activation, TowerPrecision.F32);
    }

    /** The executor's text tower; keyed by precision too, so an f32 and a bf16 run never share weights. */
    public static TextTower text(String checkpoint, Configuration conf, int heads, String activation, TowerPrecision precision) {
        return TEXT.get(checkpoint, conf, heads + "|" + activation + "|" + precision.label(), (c, cf) -> {
            try (ClipText t = ClipText.open(c, cf, heads, activation)) {
                return TextTower.load(t, precision);
            }
        });
    }

    public static VisionTower vision(String checkpoint, Configuration conf, Integer heads, String activation) {
        return vision(checkpoint, conf, heads, activation, TowerPrecision.F32);
    }

    /** The executor's vision tower; keyed by precision too. */
    public static VisionTower vision(String checkpoint, Configuration conf, Integer heads, String activation, TowerPrecision precision) {
        return VISION.get(checkpoint, conf, heads + "|" + activation + "|" + precision.label(), (c, cf) -> {
            try (ClipCheckpoint ck = ClipCheckpoint.open(c, cf, heads)) {
                return VisionTower.load(ck, activation, precision);
            }
        });
    }
}
