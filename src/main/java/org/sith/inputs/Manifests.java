package org.sith.inputs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.io.TextLines;

/** The text inputs of zero-shot and retrieval: class and template lists, labelled images, image/text pairs. */
public final class Manifests {
    private Manifests() {}

    /**
     * One entry a line. A pasted Python list (as in CLIP's published prompts) works too: lines such as
     * {@code classes = [} and {@code ]} are skipped, and quotes and trailing commas are removed.
     */
    public static List<String> listFile(String path, Configuration conf, String option) {
        List<String> out = new ArrayList<>();
        for (String line : TextLines.read(path, conf, option + " " + path)) {
            String s = line.strip();
            if (s.isEmpty() || s.endsWith("[") || s.equals("]")) continue;
            if (s.endsWith(",")) s = s.substring(0, s.length() - 1).strip();
            if (s.length() >= 2 && (s.charAt(0) == '\'' || s.charAt(0) == '"') && s.charAt(s.length() - 1) == s.charAt(0)) {
                s = s.substring(1, s.length() - 1);
            }
            out.add(s);
        }
        if (out.isEmpty()) throw new UserInputException(option + " " + path + " lists nothing");
        return out;
    }

    /** The labelled images: a CSV with a header naming image and label (class index or name) and optionally group. */
    public record Manifest(List<ImageSets.ImageRef> refs, int[] labels, String[] groups) {
        public static Manifest read(String path, List<String> classes, Configuration conf) {
            String label = "--images " + path;
            CsvFile csv = CsvFile.read(path, conf, label);
            int image = csv.column("image");
            int lab = csv.column("label");
            int group = csv.column("group");
            if (image < 0 || lab < 0) throw new UserInputException(label + ": the header must name 'image' and 'label' columns (and optionally 'group')");
            Map<String, Integer> byName = new HashMap<>();
            for (int c = 0; c < classes.size(); c++) byName.putIfAbsent(classes.get(c), c);
            Path base = Fs.path(path).getParent();
            List<ImageSets.ImageRef> refs = new ArrayList<>();
            List<Integer> labels = new ArrayList<>();
            List<String> groups = new ArrayList<>();
            for (CsvFile.Line line : csv.records(false)) {
                String where = line.where();
                String img = line.get(image);
                String l = line.get(lab);
                Integer c = byName.get(l);
                if (c == null) {
                    try {
                        c = Integer.parseInt(l);
                    } catch (NumberFormatException e) {
                        throw new UserInputException(where + ": label '" + l + "' is neither a class name nor a class index");
                    }
                    if (c < 0 || c >= classes.size()) throw new UserInputException(where + ": label " + c + " outside 0.." + (classes.size() - 1));
                }
                refs.add(ImageSets.inManifest(img, img, base));
                labels.add(c);
                if (group >= 0) groups.add(line.get(group));
            }
            if (refs.isEmpty()) throw new UserInputException(label + " lists no image");
            return new Manifest(refs, labels.stream().mapToInt(Integer::intValue).toArray(), group >= 0 ? groups.toArray(new String[0]) : null);
        }
    }

    /** The pairs of the manifest: CSV with a header naming image, text and unsafe (1/0, true/false). */
    public record Pairs(List<ImageSets.ImageRef> refs, List<String> texts, boolean[] unsafe) {
        public long safeCount() {
            long n = 0;
            for (boolean u : unsafe) if (!u) n++;
            return n;
        }

        public long unsafeCount() {
            return unsafe.length - safeCount();
        }

        public static Pairs read(String path, Configuration conf) {
            String label = "--images " + path;
            CsvFile csv = CsvFile.read(path, conf, label);
            int image = csv.column("image");
            int text = csv.column("text");
            int unsafe = csv.column("unsafe");
            if (image < 0 || text < 0 || unsafe < 0 || text != csv.columns() - 1) {
                throw new UserInputException(label + ": the header must be image,unsafe,text with text last (it may contain commas)");
            }
            Path base = Fs.path(path).getParent();
            List<ImageSets.ImageRef> refs = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            List<Boolean> flags = new ArrayList<>();
            for (CsvFile.Line line : csv.records(true)) {
                String img = line.get(image);
                String u = line.get(unsafe).toLowerCase(Locale.ROOT);
                if (!List.of("0", "1", "true", "false").contains(u)) {
                    throw new UserInputException(line.where() + ": unsafe '" + u + "' is not 0, 1, true or false");
                }
                refs.add(ImageSets.inManifest(Integer.toString(refs.size()), img, base));
                texts.add(line.get(text));
                flags.add(u.equals("1") || u.equals("true"));
            }
            if (refs.isEmpty()) throw new UserInputException(label + " lists no pair");
            boolean[] un = new boolean[flags.size()];
            for (int i = 0; i < un.length; i++) un[i] = flags.get(i);
            return new Pairs(refs, texts, un);
        }
    }
}
