/**
 * The DHCPv6 server core (RFC 8415 §16, §18.3): message validation, handling, allocation,
 * relays, options, expiry and the server DUID, as pure functions over plain data, plus
 * {@linkcode ServerCore} holding them together for the shell (`lib/server/shell`, `cli/serve.ts`).
 *
 * @module
 */

export * from "./types.ts";
export * from "./settings.ts";
export * from "./policy.ts";
export * from "./validate.ts";
export * from "./relay.ts";
export * from "./options.ts";
export * from "./allocate.ts";
export * from "./lease_index.ts";
export * from "./handle.ts";
export * from "./expiry.ts";
export * from "./duid.ts";
export * from "./service.ts";
