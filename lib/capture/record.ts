/**
 * The packet record every reader yields, whatever the file format.
 *
 * @module
 */

/** The container format of a capture file. */
export type CaptureFormat = "pcap" | "pcapng";

/** One packet record of a capture file. */
export interface CaptureRecord {
  /** 1-based record number over the whole file, counting every packet record (even empty ones). */
  frame: number;
  /**
   * Capture time as exact decimal epoch seconds (`"1709294400.100000"`), 6 or 9 decimals as the
   * file's resolution; `null` for a pcapng simple packet block, which carries no time.
   */
  timestamp: string | null;
  /** Container format. */
  format: CaptureFormat;
  /** 0-based pcapng section number (pcapng only). */
  section?: number;
  /** Interface id within its section (pcapng only). */
  interface?: number;
  /** LINKTYPE_* value of the link layer the bytes start with. */
  linkType: number;
  /** Octets captured (the length of `data`). */
  capturedLength: number;
  /** Octets the packet had on the wire. `capturedLength < originalLength` means cut by snaplen. */
  originalLength: number;
  /** The captured octets. A view: do not modify. */
  data: Uint8Array;
  /** Byte offset of the record (or block) in the file. */
  offset: number;
}

/** A pcapng block the reader does not interpret, handed to `ReadOptions.onBlock`. */
export interface OtherBlock {
  /** Block type. */
  type: number;
  /** Byte offset of the block in the file. */
  offset: number;
  /** 0-based section number. */
  section: number;
  /** Byte order of the section the block is in. */
  littleEndian: boolean;
  /** Block body (between the length fields). A view: do not modify. */
  body: Uint8Array;
}

/** Options for `readCapture`. */
export interface ReadOptions {
  /** Called for each pcapng block other than SHB, IDB, EPB, SPB and the obsolete packet block. */
  onBlock?: (block: OtherBlock) => void;
  /** Largest record or block accepted, in octets (default 64 MiB); larger is a typed error. */
  maxRecordBytes?: number;
}

/** Default for `ReadOptions.maxRecordBytes`. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
