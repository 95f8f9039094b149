/**
 * `failover6 partner` as a library: the scriptable RFC 8156 test peer. Load scenarios
 * ({@linkcode parseScenarios}, {@linkcode loadScenarioFile}) or take the built-in
 * {@linkcode CONFORMANCE} suite, run them with {@linkcode runScenarios} over a
 * {@linkcode Network} (real TCP or in memory) and a {@linkcode Scheduler} (wall clock or
 * virtual), and turn the {@linkcode RunReport} into JUnit XML or JSON. {@linkcode EnginePeer}
 * runs our own engine on the same network (the `--auto` partner).
 *
 * @example Against a live peer over TCP (see {@linkcode runScenarios} for a tested, in-memory run)
 * ```ts ignore
 * const report = await runScenarios(conformanceFor("primary"), {
 *   role: "primary",
 *   network: tcpNetwork,
 *   scheduler: realScheduler,
 *   peer: parseHostPort("[::1]:16647"),
 *   log: console.log,
 * });
 * Deno.exit(exitCodeOf(report));
 * ```
 *
 * @module
 */

export * from "./types.ts";
export { BuildError, buildOption, buildOptions, leaseTree } from "./build.ts";
export { PcapngRecorder } from "./capture.ts";
export { EnginePeer, type EnginePeerOptions, NamedTimers } from "./engine_peer.ts";
export { checkMatcher, matchAll, type Resolved, resolvePath } from "./match.ts";
export { bindingStatusOf, messageTypeOf, optionCodeOf, stateOf, statusCodeOf } from "./names.ts";
export {
  type Conn,
  type Endpoint,
  EndpointSyntaxError,
  formatEndpoint,
  type Listener,
  MemoryNetwork,
  type Network,
  parseHostPort,
  tcpNetwork,
} from "./net.ts";
export { bndreplyFor, bndreplyOptions, type ReplyStatus } from "./reply.ts";
export { reportToJson, reportToJunit, stepLines, xmlEscape } from "./report.ts";
export {
  isRuleName,
  mandatoryOptionProblems,
  type Rule,
  type RuleContext,
  type RuleName,
  RULES,
} from "./rules.ts";
export {
  Acceptor,
  exitCodeOf,
  type RunnerOptions,
  runScenario,
  runScenarios,
  stepTitle,
} from "./runner.ts";
export { loadScenarioFile, parseScenarios, ScenarioError, STEP_ACTIONS } from "./scenario.ts";
export {
  DeadlockError,
  realScheduler,
  type Scheduler,
  sleep,
  type TimerId,
  VirtualScheduler,
} from "./scheduler.ts";
export {
  type AnnouncedState,
  type PeerSettings,
  type Received,
  Session,
  type SessionOptions,
  type SessionRecorder,
  type Violation,
} from "./session.ts";
export { CONFORMANCE, conformanceFor, SUITE_VARS } from "./suite.ts";
export { parseTimeMs, substitute, VariableError, type Vars, type VarValue } from "./variables.ts";
