package org.sith.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.concepts.ConceptDictionary;
import org.sith.demo.SyntheticClip;
import org.sith.heads.Component;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.heads.TowerSource;
import org.sith.heads.WorkUnit;
import org.sith.run.Coding;

/** decompose's tasks on one executor read a layer's block once, however many batches of its MLP neurons they code. */
class HeadTaskSharedBlocksTest extends SparkTestBase {
    @TempDir
    static Path tmp;

    @Test
    void tasksOfOneLayersMlpUnitsReadItsBlockOnce() throws Exception {
        SyntheticClip clip = new SyntheticClip(3); // width 256: 1024 neurons a layer, 4 units of 256
        String ck = tmp.resolve("model.safetensors").toString();
        SafeTensorsWriter.write(ck, new Configuration(), clip.tensors, Map.of());
        int[] ids = new int[clip.concepts.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        ConceptDictionary dict = ConceptDictionary.fromRows(ids, clip.concepts, clip.embeddings, clip.p, "test");
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JointSpace joint;
        try (var c = org.sith.checkpoint.ClipCheckpoint.open(ck, new Configuration(), null)) {
            joint = JointSpace.of(c, null);
        }
        HeadTask task = new HeadTask(new HeadTask.Settings(ck, null, Side.RIGHT, 4, "m"), new SerializableConf(new Configuration()),
                CodingContext.of(jsc.broadcast(dict), Coding.DEFAULTS, "d"), jsc.broadcast(joint), HeadTask.Counters.register(spark.sparkContext()));
        int before = TowerSource.sharedReads();
        for (int first = 0; first < 4; first += 2) {
            UnitBatch b = new UnitBatch(List.of(new WorkUnit(Component.MLP, 1, first), new WorkUnit(Component.MLP, 1, first + 1)));
            assertEquals(512, HeadTaskTest.count(task.call(List.of(b).iterator())), "2 units × 256 neurons");
        }
        assertEquals(1, TowerSource.sharedReads() - before, "two tasks of layer 1's neurons, one read of its block");
    }
}
