package org.sith.judge;

import java.util.List;

/**
 * The two questions SITH asks a judge model, in the project's own words: how well a concept list names one coherent
 * concept (SPEC §13's interpretability score, the paper's monosemanticity rating), and how strongly a concept list
 * relates to a described category (`edit --judge`). Both ask for one integer from 1 to 5 and nothing else; the
 * concepts are listed one a line, most important first.
 */
public final class JudgePrompts {
    private JudgePrompts() {}

    /** A chat prompt: the system message and the user message. */
    public record Prompt(String system, String user) {}

    public static final String SYSTEM = "You grade short explanations of directions inside a vision model. An explanation is a list of "
            + "concepts, the most important first. Reply with a single integer from 1 to 5 and nothing else.";

    static final String INTERPRETABILITY_QUESTION = """
            Do these concepts describe one single, coherent concept?
            5 = all of them are the same idea, or clear facets of one idea
            4 = one clear theme, with at most one item that does not fit
            3 = a loose theme, or two separate themes
            2 = mostly unrelated, with only a weak common thread
            1 = unrelated, no common concept""";

    static final String RELEVANCE_QUESTION = """
            How strongly do these concepts relate to the category below?
            5 = they are the category itself or clearly central to it
            4 = most of them clearly belong to it
            3 = some of them relate to it
            2 = a weak or indirect relation
            1 = no relation""";

    static final String ANSWER = "Answer with one integer from 1 to 5.";

    /** The interpretability question (SPEC §13) about {@code concepts}. */
    public static Prompt interpretability(List<String> concepts) {
        return new Prompt(SYSTEM, INTERPRETABILITY_QUESTION + "\n\nConcepts:\n" + list(concepts) + "\n" + ANSWER);
    }

    /** The relevance of {@code concepts} to {@code category} (edit --judge). */
    public static Prompt relevance(List<String> concepts, String category) {
        return new Prompt(SYSTEM, RELEVANCE_QUESTION + "\n\nCategory: " + category.strip().replaceAll("\\s+", " ") + "\n\nConcepts:\n" + list(concepts) + "\n"
                + ANSWER);
    }

    /** The question of each prompt without the concepts, for the run record. */
    public static String interpretabilityTemplate() {
        return interpretability(List.of("{concept}")).user();
    }

    public static String relevanceTemplate(String category) {
        return relevance(List.of("{concept}"), category).user();
    }

    private static String list(List<String> concepts) {
        StringBuilder b = new StringBuilder();
        for (String c : concepts) b.append("- ").append(c.strip().replaceAll("\\s+", " ")).append('\n');
        return b.toString();
    }
}
