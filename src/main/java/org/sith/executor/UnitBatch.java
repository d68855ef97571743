package org.sith.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

import org.sith.heads.WorkUnit;

/** The units of work (heads, QK circuits, blocks of MLP neurons) one Spark task explains together, coded in one batch. */
public record UnitBatch(List<WorkUnit> units) implements Serializable {
    public int size() {
        return units.size();
    }

    /**
     * Consecutive units, in the given order, gathered until a batch has at least {@code rows} rows (the last may have
     * fewer); {@code rowsOf} gives a unit's rows.
     */
    public static List<UnitBatch> of(List<WorkUnit> units, int rows, java.util.function.ToIntFunction<WorkUnit> rowsOf) {
        List<UnitBatch> out = new ArrayList<>();
        List<WorkUnit> cur = new ArrayList<>();
        int n = 0;
        for (WorkUnit u : units) {
            cur.add(u);
            n += rowsOf.applyAsInt(u);
            if (n >= rows) {
                out.add(new UnitBatch(cur));
                cur = new ArrayList<>();
                n = 0;
            }
        }
        if (!cur.isEmpty()) out.add(new UnitBatch(cur));
        return out;
    }
}
