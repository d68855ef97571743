/**
 * The command line: typed options ({@link org.sith.cli.Opt}) parsed once into each command's configuration, checks against
 * the inputs' headers before Spark starts, `--help` from the same definitions, and every failure as one line on stderr
 * (exit 2 for the user's mistakes, wherever they were found; the option that fixes a core error is named here).
 */
package org.sith.cli;
