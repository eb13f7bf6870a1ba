// What every loader of image files takes besides its own settings: the folder, where the decoded
// images are cached, and how it reports progress.
import type { Log } from "./progress.js";

export interface CacheAndProgressOptions {
  /** Cache folder (default $METANAS_CACHE_DIR, else $XDG_CACHE_HOME/metanas, else ~/.cache/metanas). */
  cacheDir?: string;
  /** Skip the cache entirely (always decode, never write). */
  noCache?: boolean;
  quiet?: boolean;
  log?: Log;
}

export interface LoaderOptions extends CacheAndProgressOptions {
  dir: string;
  /** Decodes in flight (default 16). */
  concurrency?: number;
}
