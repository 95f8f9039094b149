/**
 * failover6 command line: one binary, one subcommand per file in `cli/`.
 *
 * Exit codes: 0 success, 1 a check or test failed, 2 bad input or usage.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { registerCommands } from "./commands.ts";

/** Builds the program; exported so tests can run subcommands in-process. */
export function buildProgram(): Command {
  const program = new Command()
    .name("failover6")
    .description("DHCPv6 failover (RFC 8156) toolkit: decode, mclt, partner, serve")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI with the given arguments and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(args, { from: "user" });
    return typeof Deno.exitCode === "number" ? Deno.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" || e.code === "commander.version" ||
        e.code === "commander.help"
      ) return 0;
      return 2;
    }
    if (e instanceof UsageError) {
      console.error(`failover6: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

/** A user error: printed as one line, exit status 2, no stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
