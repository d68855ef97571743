package org.sith.jobs;

import java.util.List;

import org.sith.concepts.ConceptDictionary;
import org.sith.heads.Component;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.run.HeadSelection;
import org.sith.run.RunRecord;

/**
 * What decompose and sweep read of a tower on the driver before coding: the selection resolved against it, its width and
 * joint dimension, its final LayerNorm and projection (d×p), the MLP width of each selected layer (when MLP neurons are
 * explained; 0 elsewhere) and its tensors' naming.
 */
record TowerRead(HeadSelection.Resolved sel, int width, int p, float[] lnGamma, float[] lnBeta, float[] projection, int[] mlpWidths,
                 String layout) {

    static TowerRead of(TowerSource ck, HeadSelection heads, List<Component> components) {
        HeadSelection.Resolved sel = heads.resolve(ck.layers(), ck.heads(), ck.headDim(), ck.path());
        int[] mlpWidths = new int[ck.layers()];
        if (components.contains(Component.MLP)) for (int l : sel.layers()) mlpWidths[l] = ck.mlpWidth(l);
        return new TowerRead(sel, ck.width(), ck.projDim(), ck.lnFinalWeight(), ck.lnFinalBias(), ck.projection(), mlpWidths, ck.layoutName());
    }

    /** The shape parameters both record, in this order (decompose's parameter_key is taken over them). */
    void record(RunRecord r, String model, Side side) {
        r.param("model", model).param("layers", sel.layers()).param("heads", sel.heads()).param("head_dim", sel.headDim()).param("width", width)
                .param("p", p).param("layout", layout).param("side", side.label()).param("rank", sel.rank());
    }

    /**
     * The joint space of the coding targets: the vision tower's centered with {@code imageMean} (may be null), the text
     * tower's with the dictionary's concept mean unless --center none. {@code pinv} is {@link JointSpace#pseudoInverse} of
     * the projection.
     */
    JointSpace joint(float[] pinv, TowerKind tower, ExplainJob.Center center, double[] imageMean, ConceptDictionary dict) {
        double[] mean = tower == TowerKind.TEXT && center == ExplainJob.Center.CONCEPTS ? dict.meanNormalized() : imageMean;
        return new JointSpace(lnGamma, lnBeta, projection, pinv, p, mean);
    }
}
