package org.sith.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.SafeTensors;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.concepts.ConceptDictionary;
import org.sith.demo.SyntheticClip;
import org.sith.heads.Component;
import org.sith.heads.WorkUnit;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.run.Coding;

/** decompose's executor task, called as Spark calls it: what it opens it closes, also when getting a coder fails. */
class HeadTaskTest extends SparkTestBase {
    @TempDir
    static Path tmp;

    /**
     * Defect found in review: the task opened the checkpoint, then borrowed a coder outside the try that closes it, so a
     * failure while getting the coder left the checkpoint's handle (a stream on HDFS or s3a) open on the executor.
     */
    @Test
    void aFailureWhileGettingTheCoderClosesTheCheckpoint() throws Exception {
        SyntheticClip clip = new SyntheticClip(3);
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
        HeadTask.Counters counters = HeadTask.Counters.register(spark.sparkContext());
        HeadTask.Settings settings = new HeadTask.Settings(ck, null, Side.RIGHT, 4, "m");
        List<UnitBatch> batch = List.of(new UnitBatch(List.of(new WorkUnit(Component.VO, 0, 0), new WorkUnit(Component.VO, 0, 1))));
        int before = SafeTensors.openHandles();

        Broadcast<ConceptDictionary> good = jsc.broadcast(dict);
        HeadTask ok = new HeadTask(settings, new SerializableConf(new Configuration()), CodingContext.of(good, Coding.DEFAULTS, "d"),
                jsc.broadcast(joint), counters);
        assertEquals(8, count(ok.call(batch.iterator())), "2 heads × rank 4");
        assertEquals(before, SafeTensors.openHandles(), "closed after a task that succeeded");

        Broadcast<ConceptDictionary> gone = jsc.broadcast(dict);
        gone.destroy(); // the coder's dictionary cannot be had: getting a coder fails after the checkpoint is open
        HeadTask failing = new HeadTask(settings, new SerializableConf(new Configuration()), CodingContext.of(gone, Coding.DEFAULTS, "d"),
                jsc.broadcast(joint), counters);
        assertThrows(Exception.class, () -> failing.call(batch.iterator()));
        assertEquals(before, SafeTensors.openHandles(), "closed after a task that failed getting its coder");
    }

    static int count(java.util.Iterator<?> it) {
        int n = 0;
        while (it.hasNext()) {
            it.next();
            n++;
        }
        return n;
    }
}
