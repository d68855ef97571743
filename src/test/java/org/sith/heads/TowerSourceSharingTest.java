package org.sith.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.checkpoint.BlockTensors;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.demo.SyntheticClip;

/**
 * Blocks shared by the sources of one JVM ({@link TowerSource#shareBlocks}): decompose's tasks each open a source for one
 * batch, so without sharing each batch of MLP neurons re-read its layer's whole block.
 */
class TowerSourceSharingTest {
    @TempDir
    Path tmp;

    private static final Configuration CONF = new Configuration();

    private String write(String name, long seed) {
        String ck = tmp.resolve(name).toString();
        SafeTensorsWriter.write(ck, CONF, new SyntheticClip(seed).tensors, Map.of());
        return ck;
    }

    private static TowerSource shared(String ck) {
        return TowerSource.open(TowerKind.VISION, ck, CONF, null).shareBlocks(CONF);
    }

    @Test
    void sourcesThatShareReadEachLayerOnceAndSeeWhatAnUnsharedReadSees() throws Exception {
        String ck = write("model.safetensors", 3);
        int before = TowerSource.sharedReads();
        BlockTensors a;
        BlockTensors b;
        VectorGroup fromShared;
        try (TowerSource one = shared(ck); TowerSource two = shared(ck)) {
            a = one.block(1);
            b = two.block(1);
            fromShared = two.mlpNeurons(1, 256, 512, Side.RIGHT);
        }
        assertSame(a, b, "the second source had the first one's block");
        assertEquals(1, TowerSource.sharedReads() - before, "one read for two sources of one layer");
        try (TowerSource alone = TowerSource.open(TowerKind.VISION, ck, CONF, null)) {
            BlockTensors c = alone.block(1);
            assertNotSame(a, c);
            assertArrayEquals(c.projWeight(), a.projWeight());
            assertArrayEquals(c.fcWeight(), a.fcWeight());
            assertArrayEquals(c.qkvWeight(), a.qkvWeight());
            VectorGroup fromOwn = alone.mlpNeurons(1, 256, 512, Side.RIGHT);
            for (int i = 0; i < 256; i++) assertArrayEquals(fromOwn.vectors()[i], fromShared.vectors()[i]);
        }
        assertEquals(1, TowerSource.sharedReads() - before, "a source that does not share reads its own");
    }

    @Test
    void aChangedFileIsReadAgain() throws Exception {
        String ck = write("model.safetensors", 3);
        float[] old;
        try (TowerSource s = shared(ck)) {
            old = s.block(0).projWeight();
        }
        // another model at the same path, its time set apart from the first's (a file system may keep whole seconds)
        FileTime first = Files.getLastModifiedTime(Path.of(ck));
        SafeTensorsWriter.write(ck, CONF, new SyntheticClip(4).tensors, Map.of());
        Files.setLastModifiedTime(Path.of(ck), FileTime.fromMillis(first.toMillis() + 5000));
        int before = TowerSource.sharedReads();
        float[] now;
        try (TowerSource s = shared(ck)) {
            now = s.block(0).projWeight();
        }
        assertEquals(1, TowerSource.sharedReads() - before);
        try (TowerSource alone = TowerSource.open(TowerKind.VISION, ck, CONF, null)) {
            assertArrayEquals(alone.block(0).projWeight(), now, "the new file's weights");
        }
        assertEquals(false, java.util.Arrays.equals(old, now), "seeds 3 and 4 differ");
    }

    @Test
    void concurrentTasksOfOneLayerWaitForOneRead() throws Exception {
        String ck = write("model.safetensors", 3);
        int before = TowerSource.sharedReads();
        int n = 4;
        CountDownLatch go = new CountDownLatch(1);
        BlockTensors[] got = new BlockTensors[n];
        List<Thread> ts = new ArrayList<>();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            int k = i;
            Thread t = new Thread(() -> {
                try (TowerSource s = shared(ck)) {
                    go.await();
                    got[k] = s.block(2);
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            t.start();
            ts.add(t);
        }
        go.countDown();
        for (Thread t : ts) t.join();
        assertEquals(List.of(), errors);
        for (BlockTensors b : got) assertSame(got[0], b);
        assertEquals(1, TowerSource.sharedReads() - before);
    }

    @Test
    void onlyTheLastFewLayersAreKept() throws Exception {
        String ck = write("model.safetensors", 3);
        int before = TowerSource.sharedReads();
        try (TowerSource s = shared(ck)) {
            for (int l = 0; l < 4; l++) s.block(l); // 4 layers through a cache of 3: layer 0 is let go
        }
        try (TowerSource s = shared(ck)) {
            s.block(3);
            assertEquals(4, TowerSource.sharedReads() - before, "layer 3 is still there");
            s.block(0);
            assertEquals(5, TowerSource.sharedReads() - before, "layer 0 was read again");
        }
    }
}
