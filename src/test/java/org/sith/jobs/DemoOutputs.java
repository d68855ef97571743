package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;

import javax.imageio.ImageIO;

import org.sith.SparkTestBase.Run;

/**
 * The demo's outputs plus {@code matches/} of a few drawn images (PNG and JPEG), as a user would make
 * them: {@code demo --out root}, then {@code match-images} into the same root.
 */
public final class DemoOutputs {
    private DemoOutputs() {}

    static final int IMAGES = 9;

    /** Runs both commands through the CLI (given as {@code cli}); returns the images folder. */
    public static Path make(Path root, Function<String[], Run> cli) throws Exception {
        Run demo = cli.apply(new String[] {"demo", "--out", root.toString()});
        assertEquals(0, demo.status(), demo.stderr());
        Path images = root.getParent().resolve(root.getFileName() + "-images");
        Files.createDirectories(images.resolve("sub"));
        Random rnd = new Random(3);
        for (int i = 0; i < IMAGES; i++) {
            BufferedImage img = new BufferedImage(80, 60, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(new Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)));
            g.fillRect(0, 0, 80, 60);
            g.setColor(new Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)));
            g.fillOval(rnd.nextInt(40), rnd.nextInt(30), 30 + rnd.nextInt(20), 20 + rnd.nextInt(20));
            g.dispose();
            boolean jpeg = i % 3 == 2;
            Path f = (i < 3 ? images.resolve("sub") : images).resolve("img" + i + (jpeg ? ".jpg" : ".png"));
            ImageIO.write(img, jpeg ? "jpeg" : "png", f.toFile());
        }
        Run match = cli.apply(new String[] {"match-images", "--checkpoint", root.resolve("model/demo-clip.safetensors").toString(),
            "--images", images.toString(), "--explanations", root.resolve("explanations").toString(), "--top", "3", "--out", root.toString()});
        assertEquals(0, match.status(), match.stderr());
        return images;
    }
}
