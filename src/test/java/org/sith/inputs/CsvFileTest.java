package org.sith.inputs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;

class CsvFileTest {
    @TempDir
    Path tmp;

    CsvFile csv(String text) throws Exception {
        Path f = tmp.resolve("t.csv");
        Files.writeString(f, text);
        return CsvFile.read(f.toString(), new Configuration(), "--images t.csv");
    }

    @Test
    void columnsByNameRecordsByLineBlankLinesSkipped() throws Exception {
        CsvFile c = csv(" Image , UNSAFE,text\na.png,0,a dog, running\n\nb.png,1,x\n");
        assertEquals(List.of(0, 1, 2, -1), List.of(c.column("image"), c.column("unsafe"), c.column("text"), c.column("label")));
        List<CsvFile.Line> rest = c.records(true);
        assertEquals(2, rest.size());
        assertEquals("a dog, running", rest.get(0).get(2), "the last column keeps its commas");
        assertEquals("--images t.csv line 4", rest.get(1).where(), "lines counted in the file, blank ones included");
        UserInputException e = assertThrows(UserInputException.class, () -> c.records(false));
        assertEquals("--images t.csv line 2: 4 fields, the header has 3", e.getMessage());
        assertArrayEquals(new String[] {"b.png", "1", "x"}, csv("image,unsafe,text\nb.png,1,x\n").records(false).get(0).fields());
    }
}
