/**
 * failover6: a DHCPv6 failover (RFC 8156) toolkit. The library behind the `failover6` command:
 * the DHCPv6 and failover wire codec, capture files (pcap/pcapng, TCP reassembly), the MCLT
 * rules, the failover engine and its TCP shell, the scriptable test partner, the lease store,
 * the YAML configuration and the DHCPv6 server core.
 *
 * Every function here is pure or takes its I/O and its {@linkcode Clock} from the caller;
 * decoding never throws (problems come back as typed errors with a path and an offset).
 *
 * Decode a capture and print its messages:
 *
 * ```ts
 * import { decodeCapture, renderMessage } from "@failover6/failover6";
 *
 * const path = Deno.args[0]; // e.g. session.pcapng
 * if (path !== undefined) {
 *   using file = await Deno.open(path);
 *   for await (const ev of decodeCapture(file.readable)) {
 *     if (ev.kind !== "message" || ev.message === undefined) continue;
 *     console.log(`#${ev.frame} ${ev.src} -> ${ev.dst}\n${renderMessage(ev.message)}`);
 *   }
 * }
 * ```
 *
 * The same with a capture made in memory, and an assertion on what comes out:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildUdp6Frame, clientId, decodeCapture, encodeMessage, LinkType, MessageType,
 *   PcapngWriter, renderMessage,
 * } from "@failover6/failover6";
 *
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * writer.addInterface({ linkType: LinkType.ETHERNET });
 * const solicit = encodeMessage({
 *   kind: "client-server", msgType: MessageType.SOLICIT, transactionId: 0x1234,
 *   options: [clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1]))],
 * });
 * const frame = buildUdp6Frame({
 *   src: "fe80::1",
 *   dst: "ff02::1:2",
 *   sport: 546,
 *   dport: 547,
 *   payload: solicit,
 * });
 * await writer.writePacket({ data: frame });
 * await writer.close();
 *
 * const lines: string[] = [];
 * for await (const ev of decodeCapture(chunks)) {
 *   if (ev.kind === "message" && ev.message) lines.push(renderMessage(ev.message));
 * }
 * assert.equal(lines.length, 1);
 * assert.match(lines[0], /^SOLICIT/);
 * ```
 *
 * Names two folders use for different things are exported once each, so some are renamed here:
 * `BindingStatus` is the wire code table (`BindingStatus.ACTIVE === 1`) and
 * `BindingStatusName` the store's union (`"ACTIVE" | ...`); `TimerScheduler` (engine timers)
 * and `PartnerScheduler` (the partner's clock and timers); `ConnectionAcceptor` (STARTTLS
 * preparation in the TCP shell) and `Acceptor` (the partner's connection queue);
 * `PartnerRole`, `ScenarioStepResult` and `ConfigRawOption` for the partner's and the
 * configuration's own `Role`, `StepResult` and `RawOption`.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------
// Wire codec (lib/wire): messages, options, framing, rendering
// ---------------------------------------------------------------------------------------

export {
  BindingStatus,
  DuidType,
  FailoverState,
  MessageType,
  OptionCode,
  StatusCode,
} from "./lib/wire/types.ts";
export type {
  BindingStatusOption,
  ClientDataOption,
  ClientFqdnOption,
  ClientIdOption,
  ClientServerMessage,
  CltTimeOption,
  ConnectFlagsOption,
  DhcpOption,
  DnsFlagsOption,
  DnsHostNameOption,
  DnsRemovalInfoOption,
  DnsServersOption,
  DnsZoneNameOption,
  DomainListOption,
  Duid,
  DuidEn,
  DuidLl,
  DuidLlt,
  DuidOther,
  DuidUuid,
  ElapsedTimeOption,
  ExpirationTimeOption,
  FailoverMessage,
  FailoverMsgType,
  IaAddrOption,
  IaNaOption,
  IaPdOption,
  IaPrefixOption,
  IaTaOption,
  InfMaxRtOption,
  InformationRefreshTimeOption,
  InterfaceIdOption,
  KeepaliveTimeOption,
  KnownOption,
  KnownOptionCode,
  LqBaseTimeOption,
  LqRelayDataOption,
  MalformedOption,
  MaxUnackedBndupdOption,
  MCLTOption,
  Message,
  OptionOf,
  OroOption,
  PartnerDownTimeOption,
  PartnerLifetimeOption,
  PartnerLifetimeSentOption,
  PartnerRawCltTimeOption,
  PreferenceOption,
  ProtocolVersionOption,
  RapidCommitOption,
  RawOption,
  ReconfAcceptOption,
  ReconfigureDataOption,
  ReconfMsgOption,
  RelationshipNameOption,
  RelayMessage,
  RelayMsgOption,
  RelayMsgType,
  ServerFlagsOption,
  ServerIdOption,
  ServerStateOption,
  SolMaxRtOption,
  StartTimeOfStateOption,
  StateExpirationTimeOption,
  StatusCodeOption,
  StatusCodeValue,
  UnicastOption,
  VssOption,
} from "./lib/wire/types.ts";
export { formatWireError, WireEncodeError } from "./lib/wire/errors.ts";
export type {
  CaptureTruncatedError,
  FrameTooLargeError,
  FrameTruncatedError,
  InvalidValueError,
  MessageTooShortError,
  OptionBadLengthError,
  OptionNestingTooDeepError,
  OptionOverrunError,
  OptionTooShortError,
  RelayNestingTooDeepError,
  TrailingOctetsError,
  WireError,
  WireErrorBase,
  WireErrorKind,
} from "./lib/wire/errors.ts";
export { decodeMessage, type DecodeOptions, type DecodeResult } from "./lib/wire/decode.ts";
export { encodeMessage } from "./lib/wire/encode.ts";
export {
  Deframer,
  type DeframeResult,
  type DeframerOptions,
  type Frame,
  frameMessage,
} from "./lib/wire/framing.ts";
export { type JsonObject, messageToJson, renderMessage } from "./lib/wire/render.ts";
export { messageTypeName, optionName } from "./lib/wire/names.ts";
export {
  bindingStatus,
  clientData,
  clientId,
  connectOptions,
  type ConnectSettings,
  failoverMessage,
  findOption,
  findOptions,
  iaAddr,
  iaNa,
  iaPd,
  iaPrefix,
  type LeaseFields,
  leaseOptions,
  stateOptions,
  type StateSettings,
  statusCode,
} from "./lib/wire/options.ts";

// ---------------------------------------------------------------------------------------
// Captures (lib/capture): readers, dissection, TCP reassembly, writer, message pipeline
// ---------------------------------------------------------------------------------------

export { CaptureError, type CaptureErrorKind } from "./lib/capture/errors.ts";
export type { ByteSource } from "./lib/capture/bytes.ts";
export type {
  CaptureFormat,
  CaptureRecord,
  OtherBlock,
  ReadOptions,
} from "./lib/capture/record.ts";
export { readCapture } from "./lib/capture/reader.ts";
export { type LinkName, LinkType } from "./lib/capture/linktype.ts";
export {
  dissect,
  type Dissection,
  type IpHeader,
  type LayeredPacket,
  type MalformedPacket,
  type SkippedPacket,
  type SkipReason,
  type TcpFlags,
  type TcpSegment,
  type UdpDatagram,
} from "./lib/capture/dissect.ts";
export {
  type FrameRef,
  type TcpConflictEvent,
  type TcpDataEvent,
  type TcpEndEvent,
  type TcpEndReason,
  type TcpEvent,
  type TcpGapEvent,
  type TcpGapReason,
  type TcpOpenEvent,
  TcpReassembler,
  type TcpReassemblerOptions,
  type TcpReassemblerStats,
  type TcpStreamInfo,
} from "./lib/capture/tcp_reassembly.ts";
export {
  readTransport,
  type TransportEvent,
  type TransportOptions,
} from "./lib/capture/transport.ts";
export {
  type AddressInput,
  buildTcp6Frame,
  buildUdp6Frame,
  type EthernetOptions,
  type Ipv6Options,
  type Tcp6Spec,
  TcpConversation,
  type TcpEndpoint,
  type TcpSide,
  type Udp6Spec,
} from "./lib/capture/build.ts";
export {
  type InterfaceSpec,
  type PacketSpec,
  type PcapngSink,
  PcapngWriter,
} from "./lib/capture/writer.ts";
export {
  CaptureDecoder,
  type CaptureDecoderOptions,
  type CaptureDecoderStats,
  type CaptureFaultEvent,
  decodeCapture,
  type IpFragmentError,
  type MessageError,
  type MessageEvent,
  type MessageTransport,
  type PacketErrorEvent,
  type PipelineEvent,
  type StreamNoteEvent,
  type StreamNoteKind,
  type TcpGapError,
} from "./lib/capture/messages.ts";

// ---------------------------------------------------------------------------------------
// MCLT rules (lib/failover/mclt*.ts): numbers in, numbers out
// ---------------------------------------------------------------------------------------

export {
  type ClientLifetime,
  type ClientLifetimeInput,
  clientValidLifetime,
  type LifetimeRule,
  McltInputError,
  type PartnerLifetimeDecision,
  type PartnerLifetimeInput,
  type PartnerLifetimePolicy,
  type PartnerLifetimePolicyInput,
  partnerLifetimeToSend,
  type RecoverWaitDecision,
  recoverWaitEnd,
  type RecoverWaitInput,
  type ReuseDecision,
  type ReuseInput,
  reuseTime,
} from "./lib/failover/mclt.ts";
export {
  type AckModel,
  type ScheduleEvent,
  type ScheduleParams,
  type ScheduleRow,
  type ScheduleState,
  simulateSchedule,
} from "./lib/failover/mclt_schedule.ts";
export { scheduleSvg, type ScheduleSvgOptions } from "./lib/failover/mclt_svg.ts";

// ---------------------------------------------------------------------------------------
// Failover engine (lib/failover): the pure core, BNDUPD trees, conflicts, the shells
// ---------------------------------------------------------------------------------------

export type {
  Action,
  BindingSource,
  EndpointStateName,
  Event,
  OperatorCommand,
  Role,
  StepResult,
  TimerName,
} from "./lib/failover/types.ts";
export {
  type CommsState,
  type ConnectionPhase,
  createEngine,
  type EngineConfig,
  type EngineCounters,
  type EngineState,
  type ResolvedEngineConfig,
  type StartupInfo,
  step,
} from "./lib/failover/engine.ts";
export type {
  Fingerprint,
  OutstandingBndupd,
  QueuedLease,
  SyncJob,
  SyncJobKind,
  UpdateRequest,
} from "./lib/failover/sync.ts";
export type { RebalancePolicy } from "./lib/failover/pool.ts";
export type { ConnectParams, ProtocolVersion } from "./lib/failover/connect.ts";
export {
  type EndpointTrigger,
  type Transition,
  type TransitionEffect,
  TRANSITIONS,
  type TransitionTarget,
} from "./lib/failover/endpoint.ts";
export {
  type ConflictDecision,
  type ConflictRule,
  type ReceivedBinding,
  resolveConflict,
} from "./lib/failover/conflict.ts";
export {
  bndupdOptions,
  type EndpointScope,
  parseBndupd,
  type ParsedBndupd,
  type ReceivedIa,
  type ReceivedLease,
  type ReplyStatus,
} from "./lib/failover/bndupd.ts";
export {
  type DriverHooks,
  type DriverOptions,
  type DriverStats,
  EngineDriver,
  type Transport,
} from "./lib/failover/driver.ts";
export { ManualScheduler, type Scheduler as TimerScheduler } from "./lib/failover/scheduler.ts";
export {
  type Acceptor as ConnectionAcceptor,
  type BackoffPolicy,
  type ByteStream,
  type ConnectionHandle,
  type Connector,
  type ConnListener,
  type ListenerHandle,
  type PrimaryOptions,
  runPrimary,
  runSecondary,
  type SecondaryOptions,
} from "./lib/failover/connection.ts";

// ---------------------------------------------------------------------------------------
// Test partner (lib/partner): scripted RFC 8156 peer and the conformance suite
// ---------------------------------------------------------------------------------------

export type {
  AutoSettings,
  Corruption,
  CorruptStep,
  CutStep,
  DelayStep,
  ExpectCloseStep,
  ExpectNoneStep,
  ExpectStateStep,
  ExpectStep,
  HandshakeStep,
  MonitorSettings,
  PartnerSettings,
  ReconnectStep,
  Role as PartnerRole,
  RunReport,
  Scenario,
  ScenarioResult,
  SendStep,
  SetStep,
  SkewStep,
  Step,
  StepCommon,
  StepKind,
  StepResult as ScenarioStepResult,
  Verdict,
  WaitStep,
  WithholdStep,
} from "./lib/partner/types.ts";
export type { AutoStep } from "./lib/partner/types.ts";
export { parseScenarios, ScenarioError } from "./lib/partner/scenario.ts";
export { Acceptor, type RunnerOptions, runScenarios } from "./lib/partner/runner.ts";
export { CONFORMANCE, conformanceFor } from "./lib/partner/suite.ts";
export {
  type Conn,
  type Endpoint,
  type Listener,
  MemoryNetwork,
  type Network,
} from "./lib/partner/net.ts";
export type { Scheduler as PartnerScheduler, TimerId } from "./lib/partner/scheduler.ts";
export { realScheduler, VirtualScheduler } from "./lib/partner/scheduler.ts";
export type { SessionRecorder } from "./lib/partner/session.ts";
export type { VarValue } from "./lib/partner/variables.ts";
export { EnginePeer, type EnginePeerOptions } from "./lib/partner/engine_peer.ts";
export {
  loadTlsFiles,
  TlsFileError,
  type TlsFiles as PartnerTlsFiles,
  type TlsOptions,
} from "./lib/partner/tls.ts";

// ---------------------------------------------------------------------------------------
// Lease store (lib/store)
// ---------------------------------------------------------------------------------------

export {
  type BindingStatus as BindingStatusName,
  type BindingStore,
  type EndpointStateRecord,
  type Lease,
  type LeaseKey,
  type LeaseKind,
  type LeasePage,
  type LeaseQuery,
  type PoolOwner,
  type PoolStatusCount,
  StoreError,
  type StoreErrorKind,
  type StoreWrite,
} from "./lib/store/types.ts";
export { emptyLease } from "./lib/store/lease.ts";
export { MemoryBindingStore } from "./lib/store/memory.ts";
export {
  type IntegrityCheck,
  SqliteBindingStore,
  type SqliteStoreOptions,
} from "./lib/store/sqlite.ts";
export {
  BatchCommitter,
  type BatchCommitterOptions,
  type BatchInfo,
  type BatchStats,
  type BatchTimer,
} from "./lib/store/batch.ts";

// ---------------------------------------------------------------------------------------
// Configuration (lib/config)
// ---------------------------------------------------------------------------------------

export type {
  AddressPool,
  AllocationMode,
  Config,
  ControlConfig,
  DelegablePrefix,
  DhcpOptions,
  Lifetimes,
  LinkSelection,
  ListenEntry,
  LoggingConfig,
  RawOption as ConfigRawOption,
  Relationship,
  RenewTime,
  Reservation,
  Subnet,
  TlsFiles,
} from "./lib/config/types.ts";
export { type ConfigError, formatConfigError } from "./lib/config/errors.ts";
export { loadConfig, type LoadResult } from "./lib/config/load.ts";
export { defaultConfig } from "./lib/config/default.ts";
export {
  type ConfigChange,
  formatChange,
  planReload,
  type ReloadPlan,
} from "./lib/config/reload.ts";

// ---------------------------------------------------------------------------------------
// DHCPv6 server core (lib/server)
// ---------------------------------------------------------------------------------------

export type {
  DropReason,
  DropResult,
  HandleResult,
  Inbound,
  LeaseChange,
  LeaseView,
  ReplyResult,
} from "./lib/server/types.ts";
export {
  type ClientReservations,
  compileSettings,
  type PoolSettings,
  type PrefixPoolSettings,
  type ServerOptions,
  type ServerSettings,
  SettingsError,
  type SubnetSettings,
} from "./lib/server/settings.ts";
export { handle, type HandlerContext } from "./lib/server/handle.ts";
export {
  type AdmitQuery,
  type Candidate,
  type FailoverPolicy,
  type LifetimeQuery,
  type RoomQuery,
  standalonePolicy,
} from "./lib/server/policy.ts";
export type { LeaseIndex } from "./lib/server/lease_index.ts";
export {
  type DatagramMeta,
  leaseWrites,
  ServerCore,
  type ServerCoreOptions,
} from "./lib/server/service.ts";
export {
  allocatesIn,
  type EndpointView,
  pairPolicy,
  type PairPolicyInput,
  type Responsiveness,
  responsiveness,
} from "./lib/server/failover_policy.ts";
export { DhcpServer, type DhcpServerOptions } from "./lib/server/shell/server.ts";

// ---------------------------------------------------------------------------------------
// Shared utilities (lib/util): clock, durations, IPv6 arithmetic
// ---------------------------------------------------------------------------------------

export {
  type Clock,
  failoverTimeToUnix,
  FakeClock,
  systemClock,
  unixToFailoverTime,
} from "./lib/util/clock.ts";
export {
  type DurationError,
  type DurationResult,
  formatDuration,
  parseDuration,
} from "./lib/util/duration.ts";
export {
  type AddressRange,
  canonicalIPv6,
  formatIPv6,
  formatPrefix,
  parseIPv6,
  parsePrefix,
  type Prefix,
  prefixContains,
  type PrefixParse,
} from "./lib/util/ipv6.ts";
export { formatIPv6Bytes, parseIPv6Bytes, parseIPv6Into } from "./lib/util/ipv6_octets.ts";
