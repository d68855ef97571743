package org.sith.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

class LayerSpecTest {
    static int[] layers(String spec, int n) {
        return LayerSpec.parse(spec).resolve(n, "m");
    }

    @Test
    void layerSelections() {
        assertArrayEquals(new int[] {0, 1, 2, 3}, layers("all", 4));
        assertArrayEquals(new int[] {20, 21, 22, 23}, layers("last:4", 24));
        assertArrayEquals(new int[] {20, 21, 22, 23}, layers("20,21,22,23", 24));
        assertArrayEquals(new int[] {3, 20, 21, 22}, layers("20-22, 3", 24));
        assertArrayEquals(new int[] {5}, layers("5,5", 24));
    }

    /** Syntax is refused when parsed (before Spark), the layers themselves when the model is known; both name --layers. */
    @Test
    void badLayerSelectionsNameTheOptionAndTheModel() {
        for (String bad : new String[] {"last:0", "x", "-1", "5-3", "3,,4"}) {
            UserInputException e = assertThrows(UserInputException.class, () -> LayerSpec.parse(bad));
            assertTrue(e.getMessage().startsWith("--layers"), e.getMessage());
        }
        assertTrue(assertThrows(UserInputException.class, () -> LayerSpec.parse("5-3")).getMessage().contains("reversed"));
        for (String beyond : new String[] {"24", "last:25", "3-30"}) {
            LayerSpec s = LayerSpec.parse(beyond);
            UserInputException e = assertThrows(UserInputException.class, () -> s.resolve(24, "vit.safetensors"));
            assertTrue(e.getMessage().startsWith("--layers") && e.getMessage().contains("vit.safetensors"), e.getMessage());
        }
    }

    /** One rule for the model column of every command (a join on model across outputs needs it). */
    @Test
    void modelNamesComeFromTheFileOrItsFolder() {
        assertEquals("ViT-L-14", ModelName.of("/m/ViT-L-14/open_clip_model.safetensors", null));
        assertEquals("b32", ModelName.of("/m/b32/model.safetensors", null));
        assertEquals("clip-b32", ModelName.of("s3a://b/clip-b32.safetensors", null));
        assertEquals("mine", ModelName.of("/m/b32/model.safetensors", "mine"));
    }
}
