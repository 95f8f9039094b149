/**
 * The `failover6 serve` configuration: YAML validated by zod, every error with its line.
 *
 * @module
 */

export type * from "./types.ts";
export { type ConfigError, formatConfigError, formatPath, type PathSegment } from "./errors.ts";
export { loadConfig, type LoadResult, MAX_CONFIG_BYTES } from "./load.ts";
export { DEFAULT_CONFIG_NAME, DEFAULT_CONFIG_YAML, defaultConfig } from "./default.ts";
export { DEFAULTS, renewSeconds } from "./semantic.ts";
export {
  type ConfigChange,
  formatChange,
  planReload,
  type ReloadPlan,
  RESTART_KEYS,
  sameConfigValue,
} from "./reload.ts";
