package org.sith.run;

import java.io.Serializable;
import java.util.Map;

import org.sith.UserInputException;
import org.sith.model.PreprocessOrder;
import org.sith.model.TowerPrecision;

/**
 * How the image commands run the vision tower: the head count and activation when no config beside the
 * checkpoint says them, the image side, the images per Spark task, the preprocessing order
 * ({@code preprocess}; null: the checkpoint's own ecosystem, {@link PreprocessOrder#of}), and the precision of
 * the towers' Linear layers ({@code towerPrecision}: f32 unless bf16 is asked for; zero-shot and retrieval run
 * their text tower in it too).
 */
public record ImageSettings(Integer heads, String activation, Integer size, int imagesPerTask, PreprocessOrder preprocess,
                            TowerPrecision towerPrecision) implements Serializable, RunRecord.Recordable {
    public static final int DEFAULT_IMAGES_PER_TASK = 256;
    public static final TowerPrecision DEFAULT_TOWER_PRECISION = TowerPrecision.F32;
    public static final ImageSettings DEFAULTS = new ImageSettings(null, null, null, DEFAULT_IMAGES_PER_TASK, null);

    public ImageSettings {
        if (heads != null && heads < 1) throw new UserInputException("--heads " + heads + " must be at least 1");
        if (size != null && size < 1) throw new UserInputException("--size " + size + " must be at least 1");
        if (imagesPerTask < 1) throw new UserInputException("--images-per-task " + imagesPerTask + " must be at least 1");
        if (towerPrecision == null) towerPrecision = DEFAULT_TOWER_PRECISION;
    }

    /** The towers in f32. */
    public ImageSettings(Integer heads, String activation, Integer size, int imagesPerTask, PreprocessOrder preprocess) {
        this(heads, activation, size, imagesPerTask, preprocess, DEFAULT_TOWER_PRECISION);
    }

    public ImageSettings withTowerPrecision(TowerPrecision p) {
        return new ImageSettings(heads, activation, size, imagesPerTask, preprocess, p);
    }

    @Override
    public void recordOptions(Map<String, Object> options) {
        options.put("heads", heads);
        options.put("activation", activation);
        options.put("size", size);
        options.put("images-per-task", imagesPerTask);
        options.put("preprocess", preprocess == null ? null : preprocess.value());
        options.put("tower-precision", towerPrecision.label());
    }
}
