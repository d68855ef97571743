package org.sith.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.jobs.JudgeJob;

final class JudgeCommand implements Command<JudgeJob.Config> {
    static final Opt<String> EXPLANATIONS = Opt.text("explanations", "DIR", "an explanations/ folder (decompose's or explain's)");

    @Override
    public String name() {
        return JudgeJob.NAME;
    }

    @Override
    public String summary() {
        return "Ask an OpenAI-compatible judge model to rate 1-5 how well each explanation's concepts name one coherent concept: writes judgements/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> o = new ArrayList<>(List.of(EXPLANATIONS));
        o.addAll(JudgeOptions.all());
        o.addAll(List.of(CommonOptions.OUT, CommonOptions.OVERWRITE, CommonOptions.RESUME));
        return o;
    }

    @Override
    public JudgeJob.Config config(Options o) {
        if (!o.has(JudgeOptions.URL)) throw new UserInputException("judge needs --judge-url (an OpenAI-compatible endpoint, e.g. https://api.openai.com/v1)");
        return new JudgeJob.Config(o.required(EXPLANATIONS), JudgeOptions.settings(o, ""), CommonOptions.output(o, true));
    }

    @Override
    public int run(JudgeJob.Config c, SparkSession spark) {
        JudgeJob.Result r = JudgeJob.run(spark, c);
        System.out.printf(Locale.ROOT, "%s: %d vectors, %d scored%s, %d without a score%s → %s/judgements%n", name(), r.vectors(), r.scored(),
                r.meanScore() == null ? "" : String.format(Locale.ROOT, " (mean %.2f)", r.meanScore()), r.failed(),
                r.resumed() > 0 ? ", " + r.resumed() + " kept from the earlier run" : "", r.out());
        return 0;
    }
}
