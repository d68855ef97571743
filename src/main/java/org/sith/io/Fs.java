package org.sith.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
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

    public static boolean exists(FileSystem fs, Path p) {
        try {
            return fs.exists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The local file system without its checksum layer (no .crc side files); any other as it is. For small files
     * rewritten in place or by other tools (run records, claims), where a stale .crc would turn a read into an error.
     */
    public static FileSystem plain(FileSystem fs) {
        return fs instanceof LocalFileSystem l ? l.getRaw() : fs;
    }

    public static boolean exists(String p, Configuration conf) {
        Path path = path(p);
        return exists(fs(path, conf), path);
    }
}
