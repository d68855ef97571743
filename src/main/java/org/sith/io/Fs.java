package org.sith.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Every path a user gives may be local, file:, hdfs: or s3a:; all file access goes through here. */
public final class Fs {
    private Fs() {}

    /** A Hadoop path; a bare local path (no scheme) is made absolute against the working directory. */
    public static Path path(String p) {
        URI u = new Path(p).toUri();
        if (u.getScheme() == null) {
            return new Path(new java.io.File(p).getAbsoluteFile().toURI());
        }
        return new Path(p);
    }

    public static FileSystem fs(Path p, Configuration conf) {
        try {
            return p.getFileSystem(conf);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open file system for " + p + ": " + e.getMessage(), e);
        }
    }

    public static boolean exists(String p, Configuration conf) {
        Path path = path(p);
        try {
            return fs(path, conf).exists(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
