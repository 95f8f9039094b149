/**
 * The list of subcommands. Each subcommand lives in its own file and exports a
 * `register(program)` function; add new ones here.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";

/** Registers every subcommand on the program. */
export function registerCommands(_program: Command): void {
}
