package org.sith.model;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.sith.analysis.TopK;
import org.sith.heads.VectorId;

/**
 * The per-head image scores of SPEC §7 for a batch of images: at each selected block,
 * z_h = Σ_t a_t·x̂_t (the class token's attention over the block input standardized without LN1's
 * affine) and score_j = σ_j·⟨z_h, u_j⟩; keeps the top images of every explained vector.
 */
public final class MatchScorer implements VisionTower.Probe {
    /** The read directions and σ of the explained vectors of one head. */
    public record HeadVectors(int layer, int head, int[] svs, double[] sigma, float[] u /* svs.length × d */) implements Serializable {}

    private final Map<Integer, List<HeadVectors>> byLayer = new HashMap<>();
    private final VisionTower tower;
    private final List<String> images;
    private final int top;
    private final int last;
    private final Map<VectorId, TopK> tops = new TreeMap<>();
    private int offset; // images of earlier batches

    /** {@code images}: the ids of the images in the order the tower receives them. */
    public MatchScorer(List<HeadVectors> heads, VisionTower tower, List<String> images, int top) {
        int maxLayer = 0;
        for (HeadVectors h : heads) {
            byLayer.computeIfAbsent(h.layer(), k -> new ArrayList<>()).add(h);
            maxLayer = Math.max(maxLayer, h.layer());
        }
        this.tower = tower;
        this.images = images;
        this.top = top;
        this.last = maxLayer;
    }

    /** The top images of every explained vector seen so far, by key. */
    public Map<VectorId, TopK> tops() {
        return tops;
    }

    @Override
    public boolean wants(int layer) {
        return byLayer.containsKey(layer);
    }

    @Override
    public int lastLayer() {
        return last;
    }

    @Override
    public void block(int layer, int n, float[] xhat, float[] attention) {
        int d = tower.width();
        int t = tower.tokens();
        int heads = tower.heads();
        double[] z = new double[d];
        for (HeadVectors hv : byLayer.get(layer)) {
            for (int i = 0; i < n; i++) {
                Arrays.fill(z, 0);
                int a = (i * heads + hv.head()) * t;
                for (int k = 0; k < t; k++) {
                    double w = attention[a + k];
                    int x = (i * t + k) * d;
                    for (int c = 0; c < d; c++) z[c] += w * xhat[x + c];
                }
                String image = images.get(offset + i);
                for (int j = 0; j < hv.svs().length; j++) {
                    double s = 0;
                    int u = j * d;
                    for (int c = 0; c < d; c++) s += z[c] * hv.u()[u + c];
                    tops.computeIfAbsent(new VectorId(layer, hv.head(), hv.svs()[j]), k -> new TopK(top)).offer(hv.sigma()[j] * s, image);
                }
            }
        }
        if (layer == last) offset += n;
    }
}
