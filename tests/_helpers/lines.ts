/**
 * Reading a child process's output line by line as it comes (for tests that watch a server's
 * log while it runs).
 *
 * @module
 */

/** The lines read so far, and a promise that settles when the stream ends. */
export interface LineReader {
  /** Every complete line so far (the last, unterminated one too once the stream ends). */
  lines: string[];
  /** Settles when the stream has ended and every line is in `lines`. */
  done: Promise<void>;
}

/** Collects the lines of `stream` (UTF-8) into `lines` as they arrive. */
export function lineReader(stream: ReadableStream<Uint8Array>): LineReader {
  const lines: string[] = [];
  const done = (async () => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    if (buf) lines.push(buf);
  })();
  return { lines, done };
}

/** A child process whose stderr is read line by line. */
export interface WatchedChild {
  child: Deno.ChildProcess;
  /** Its stderr lines. */
  err: LineReader;
  /** Whether it has exited yet. */
  readonly exited: boolean;
}

/** Spawns `deno ARGS` (stdout discarded) and reads its stderr with {@linkcode lineReader}. */
export function spawnWatched(args: string[]): WatchedChild {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .spawn();
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    err: lineReader(child.stderr),
    get exited() {
      return exited;
    },
  };
}
