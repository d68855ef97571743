package org.sith;

/**
 * A mistake in what the user gave us (a file, a tensor, a row, an option). The launcher turns it
 * into one line on stderr and exit status 2, never a stack trace. The message must name the thing
 * at fault (file, tensor, row, option) so the user can act on it without reading code.
 */
public class UserInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserInputException(String message) {
        super(message);
    }

    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }

    private String setting;

    /**
     * Marks the setting the user can give to fix this (e.g. "heads"): core code speaks of its settings in its own
     * words, and the shell names the option that sets it.
     */
    public UserInputException setting(String name) {
        this.setting = name;
        return this;
    }

    public String setting() {
        return setting;
    }

    /**
     * The first UserInputException in a cause chain (Spark wraps task failures), or null. A task's
     * exception may reach the driver only as text (its class name inside a SparkException message),
     * so that form is recognised too.
     */
    public static UserInputException find(Throwable t) {
        String marker = UserInputException.class.getName() + ": ";
        UserInputException fromText = null;
        for (int depth = 0; t != null && depth < 32; depth++, t = t.getCause()) {
            if (t instanceof UserInputException u) return u;
            String m = t.getMessage();
            int at = m == null ? -1 : m.indexOf(marker);
            if (at >= 0 && fromText == null) {
                String rest = m.substring(at + marker.length());
                int nl = rest.indexOf('\n');
                fromText = new UserInputException(nl < 0 ? rest : rest.substring(0, nl));
            }
        }
        return fromText;
    }
}
