package org.sith.inputs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * The Parquet output folders that `sql` and `report` read: every folder under `--out` that holds
 * Parquet files (partition folders such as {@code layer=3/} included), or the folders given with `--in`.
 * Each is known by its folder name turned into an SQL identifier: characters other than letters,
 * digits and `_` become `_`, and a leading digit gets a `_` in front ({@code diff-heads} → {@code diff_heads}).
 */
public final class OutputFolders {
    private OutputFolders() {}

    /** A Parquet folder: its identifier (view name) and its qualified path. */
    public record Folder(String name, String path) {}

    /** The Parquet folders directly under {@code root}, in name order; hidden (`.`, `_`) folders are skipped. */
    public static List<Folder> under(String root, Configuration conf) {
        Path p = Fs.path(root);
        FileSystem fs = Fs.fs(p, conf);
        List<Folder> out = new ArrayList<>();
        try {
            if (!fs.exists(p)) throw new UserInputException("--out " + root + " does not exist");
            if (!fs.getFileStatus(p).isDirectory()) throw new UserInputException("--out " + root + " is a file, not a folder");
            FileStatus[] children = fs.listStatus(p);
            Arrays.sort(children);
            for (FileStatus c : children) {
                String n = c.getPath().getName();
                if (!c.isDirectory() || n.startsWith(".") || n.startsWith("_")) continue;
                if (holdsParquet(fs, c.getPath(), 3)) out.add(new Folder(identifier(n), fs.makeQualified(c.getPath()).toString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("--out " + root + ": " + e.getMessage(), e);
        }
        return unique(out, "--out " + root);
    }

    /**
     * The folders of an `--in` list: comma-separated {@code PATH} (named after its last folder) or
     * {@code NAME=PATH}; each must hold Parquet files.
     */
    public static List<Folder> given(String list, Configuration conf) {
        List<Folder> out = new ArrayList<>();
        for (String item : list.split(",")) {
            String s = item.trim().replaceAll("(?<=.)/+$", ""); // a folder named with a trailing slash is still named after itself
            if (s.isEmpty()) continue;
            String name = null;
            int eq = s.indexOf('=');
            if (eq > 0 && s.substring(0, eq).matches("[A-Za-z_][A-Za-z0-9_]*")) {
                name = s.substring(0, eq);
                s = s.substring(eq + 1);
            }
            Path p = Fs.path(s);
            FileSystem fs = Fs.fs(p, conf);
            try {
                if (!fs.exists(p)) throw new UserInputException("--in " + s + " does not exist");
                if (!holdsParquet(fs, p, 3)) throw new UserInputException("--in " + s + " holds no Parquet files");
                out.add(new Folder(name != null ? name : identifier(new Path(s).getName().replaceFirst("\\.parquet$", "")), fs.makeQualified(p).toString()));
            } catch (IOException e) {
                throw new UncheckedIOException("--in " + s + ": " + e.getMessage(), e);
            }
        }
        if (out.isEmpty()) throw new UserInputException("--in '" + list + "' names no folder");
        return unique(out, "--in");
    }

    /** `--in` when given, else the folders under `--out`; at least one. */
    public static List<Folder> resolve(String in, String out, Configuration conf) {
        if (in != null) return given(in, conf);
        if (out == null) throw new UserInputException("give --out (a folder of outputs) or --in (Parquet folders)");
        List<Folder> f = under(out, conf);
        if (f.isEmpty()) throw new UserInputException("--out " + out + " holds no Parquet output folders");
        return f;
    }

    public static String identifier(String folderName) {
        String s = folderName.replaceAll("[^A-Za-z0-9_]", "_");
        return s.isEmpty() || Character.isDigit(s.charAt(0)) ? "_" + s : s;
    }

    private static List<Folder> unique(List<Folder> folders, String where) {
        Map<String, Folder> seen = new LinkedHashMap<>();
        for (Folder f : folders) {
            Folder before = seen.putIfAbsent(f.name().toLowerCase(java.util.Locale.ROOT), f);
            if (before != null) {
                throw new UserInputException(where + ": " + before.path() + " and " + f.path() + " would both be named " + f.name()
                        + " (name them with --in NAME=PATH,...)");
            }
        }
        return folders;
    }

    private static boolean holdsParquet(FileSystem fs, Path p, int depth) throws IOException {
        if (!fs.getFileStatus(p).isDirectory()) return p.getName().endsWith(".parquet");
        for (FileStatus c : fs.listStatus(p)) {
            String n = c.getPath().getName();
            if (n.startsWith(".") || (n.startsWith("_") && !n.contains("="))) continue;
            if (c.isFile() && n.endsWith(".parquet")) return true;
            if (c.isDirectory() && depth > 0 && holdsParquet(fs, c.getPath(), depth - 1)) return true;
        }
        return false;
    }
}
