package org.sith.inputs;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.model.ClipTokenizer;

/** The tokenizer of `--bpe`, else the one saved beside the checkpoint. */
public final class Tokenizers {
    private Tokenizers() {}

    public static ClipTokenizer of(String bpe, String checkpoint, Configuration conf) {
        if (bpe != null) {
            Paths.mustExist("bpe", bpe, conf);
            return ClipTokenizer.load(bpe, conf);
        }
        ClipTokenizer t = ClipTokenizer.besideCheckpoint(checkpoint, conf);
        if (t == null) {
            throw new UserInputException("no tokenizer beside checkpoint " + checkpoint
                    + " (vocab.json + merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz): pass --bpe FILE");
        }
        return t;
    }
}
