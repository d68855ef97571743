package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

class InputsTest {
    @Test
    void layerSelections() {
        assertArrayEquals(new int[] {0, 1, 2, 3}, Inputs.layers("all", 4, "m"));
        assertArrayEquals(new int[] {20, 21, 22, 23}, Inputs.layers("last:4", 24, "m"));
        assertArrayEquals(new int[] {20, 21, 22, 23}, Inputs.layers("20,21,22,23", 24, "m"));
        assertArrayEquals(new int[] {3, 20, 21, 22}, Inputs.layers("20-22, 3", 24, "m"));
        assertArrayEquals(new int[] {5}, Inputs.layers("5,5", 24, "m"));
    }

    @Test
    void badLayerSelectionsNameTheOptionAndTheModel() {
        for (String bad : new String[] {"24", "last:25", "last:0", "x", "3-30", "-1"}) {
            UserInputException e = assertThrows(UserInputException.class, () -> Inputs.layers(bad, 24, "vit.safetensors"));
            assertTrue(e.getMessage().startsWith("--layers"), e.getMessage());
        }
    }

    @Test
    void modelNamesComeFromTheFileOrItsFolder() {
        assertTrue(DecomposeJob.modelName("/m/ViT-L-14/open_clip_model.safetensors").equals("ViT-L-14"));
        assertTrue(DecomposeJob.modelName("s3a://b/clip-b32.safetensors").equals("clip-b32"));
    }
}
