package org.sith.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;

class TextLinesTest {
    @TempDir
    Path tmp;

    String[] read(byte[] bytes) throws IOException {
        Path f = tmp.resolve("vocab.txt");
        Files.write(f, bytes);
        return TextLines.read(f.toString(), new Configuration(), "vocabulary " + f.getFileName());
    }

    @Test
    void utf8LinesWithBomAndCrlf() throws IOException {
        assertArrayEquals(new String[] {"café", "naïve", "東京"}, read("\uFEFFcafé\r\nnaïve\n東京\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** A Latin-1 file (é as the single byte 0xE9) is refused naming the file, the line and where on it. */
    @Test
    void notUtf8NamesTheFileTheLineAndTheColumn() {
        byte[] latin1 = {'d', 'o', 'g', '\n', 'c', 'a', 't', '\n', 'c', 'a', 'f', (byte) 0xE9, '\n', 'o', 'k', '\n'};
        UserInputException e = assertThrows(UserInputException.class, () -> read(latin1));
        assertEquals("vocabulary vocab.txt: line 3 is not valid UTF-8 (byte 0xE9 at column 4; save the file as UTF-8)", e.getMessage());
        byte[] afterMultibyte = {'a', '\n', (byte) 0xC3, (byte) 0xA9, (byte) 0xFF, '\n'}; // "é" then a stray 0xFF
        UserInputException f = assertThrows(UserInputException.class, () -> read(afterMultibyte));
        assertEquals("vocabulary vocab.txt: line 2 is not valid UTF-8 (byte 0xFF at column 2; save the file as UTF-8)", f.getMessage());
    }
}
