package org.sith.inputs;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.io.TextLines;

/** `--query`: a file of texts (one a line) when it names an existing file, else the text itself. */
public final class QueryTexts {
    private QueryTexts() {}

    public static List<String> read(String query, Configuration conf) {
        if (query.isBlank()) throw new UserInputException("--query is empty");
        if (Fs.exists(query, conf)) {
            List<String> out = new ArrayList<>();
            for (String s : TextLines.read(query, conf, "--query " + query)) if (!s.isBlank()) out.add(s.strip());
            if (out.isEmpty()) throw new UserInputException("--query " + query + " lists no text");
            return out;
        }
        return List.of(query);
    }
}
