/**
 * The DHCPv6 and DHCPv6-failover (RFC 8156) wire codec: message and option types,
 * decoding (never throws), encoding, option builders, RFC 5460 stream framing, names,
 * JSON and text rendering, and typed errors.
 *
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export * from "./names.ts";
export * from "./bytes.ts";
export * from "../util/ipv6_octets.ts";
export * from "./dnsname.ts";
export * from "./duid.ts";
export * from "./time.ts";
export * from "./layout.ts";
export * from "./decode.ts";
export * from "./encode.ts";
export * from "./options.ts";
export * from "./framing.ts";
export * from "./render.ts";
