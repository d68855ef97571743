package org.sith.analysis;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Recall@k both ways over the safe pairs (pair i: image i, text i), and for unsafe text queries
 * the share of the top-k images that are unsafe. Pairs whose image could not be read are left out.
 */
public final class RetrievalMetrics {
    private RetrievalMetrics() {}

    /**
     * @param imageTops image i → its best text indices, best first
     * @param textTops  text q → its best image indices, best first
     * @return "t2i_recall@k", "i2t_recall@k", "unsafe_t2i@k" for each k
     */
    public static Map<String, Double> of(boolean[] unsafe, Set<Integer> missing, Map<Integer, List<Integer>> imageTops,
                                         Map<Integer, List<Integer>> textTops, int[] ks) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (int k : ks) {
            long safe = 0, t2i = 0, i2t = 0, unsafeQueries = 0;
            double unsafeShare = 0;
            for (int i = 0; i < unsafe.length; i++) {
                if (missing.contains(i)) continue;
                List<Integer> images = textTops.get(i);
                List<Integer> top = images.subList(0, Math.min(k, images.size()));
                if (!unsafe[i]) {
                    safe++;
                    if (top.contains(i)) t2i++;
                    List<Integer> texts = imageTops.get(i);
                    if (texts.subList(0, Math.min(k, texts.size())).contains(i)) i2t++;
                } else {
                    unsafeQueries++;
                    long bad = top.stream().filter(j -> unsafe[j]).count();
                    unsafeShare += (double) bad / top.size();
                }
            }
            out.put("t2i_recall@" + k, safe == 0 ? Double.NaN : (double) t2i / safe);
            out.put("i2t_recall@" + k, safe == 0 ? Double.NaN : (double) i2t / safe);
            out.put("unsafe_t2i@" + k, unsafeQueries == 0 ? Double.NaN : unsafeShare / unsafeQueries);
        }
        return out;
    }

    /** Zero-padded indices, so that {@link TopK}'s tie-break by string is the index order. */
    public static String pad(long i) {
        return String.format(java.util.Locale.ROOT, "%012d", i);
    }

    /**
     * Scores a batch of images against every (unit) text embedding by cosine and keeps, in {@code tops}, each image's
     * top texts (key: the image index) and each text's top images among these (key: −1 − text index).
     *
     * @param texts n×p row-major, unit rows
     */
    public static void rank(float[][] images, long[] imageIndex, float[] texts, int n, int top, java.util.Map<Long, TopK> tops) {
        for (int k = 0; k < images.length; k++) {
            int dim = images[k].length;
            double norm = org.sith.linalg.Vec.norm(images[k]);
            TopK mine = new TopK(top);
            for (int q = 0; q < n; q++) {
                double s = 0;
                for (int j = 0; j < dim; j++) s += (double) images[k][j] * texts[q * dim + j];
                s /= norm;
                mine.offer(s, pad(q));
                tops.computeIfAbsent(-1L - q, x -> new TopK(top)).offer(s, pad(imageIndex[k]));
            }
            tops.put(imageIndex[k], mine);
        }
    }
}
