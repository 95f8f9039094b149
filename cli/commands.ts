/**
 * The list of subcommands. Each subcommand lives in its own file and exports a
 * `register(program)` function; add new ones here.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { register as registerDecode } from "./decode.ts";
import { register as registerMclt } from "./mclt.ts";
import { register as registerServe } from "./serve.ts";
import { register as registerCtl } from "./ctl.ts";
import { register as registerPartner } from "./partner.ts";

/** Registers every subcommand on the program. */
export function registerCommands(_program: Command): void {
  registerDecode(_program);
  registerMclt(_program);
  registerServe(_program);
  registerCtl(_program);
  registerPartner(_program);
}
