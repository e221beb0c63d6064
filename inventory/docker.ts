import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { errorMessage } from '../core/errors.js';
import type { Container, DockerImage } from './report.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

const TIMEOUT_MS = 5000;
/** A Docker answer beyond this is not a list of containers; stop reading it. */
const MAX_BODY = 32 * 1024 * 1024;

function getJson(socketPath: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`${path}: answer over ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200)
          return reject(new Error(`${path}: HTTP ${res.statusCode} ${Buffer.concat(chunks)}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new Error(`${path}: ${errorMessage(err)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

interface ApiContainer {
  Id?: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Mounts?: { Type?: string; Source?: string }[];
  Labels?: Record<string, string>;
}

interface ApiImage {
  Id?: string;
  RepoTags?: string[] | null;
  Size?: number;
}

/** Docker Engine API `GET /containers/json?all=1` items → what the inventory keeps. */
export function toContainers(list: unknown): Container[] {
  if (!Array.isArray(list)) return [];
  return (list as ApiContainer[]).map((c) => {
    const workingDir = c.Labels?.['com.docker.compose.project.working_dir'];
    return {
      id: (c.Id ?? '').slice(0, 12),
      name: (c.Names?.[0] ?? '').replace(/^\//, ''),
      image: c.Image ?? '',
      state: c.State ?? 'unknown',
      mounts: (c.Mounts ?? []).filter((m) => m.Type === 'bind' && m.Source).map((m) => m.Source!),
      ...(workingDir ? { workingDir } : {}),
    };
  });
}

export function toImages(list: unknown): DockerImage[] {
  if (!Array.isArray(list)) return [];
  return (list as ApiImage[]).map((i) => ({
    id: (i.Id ?? '').replace(/^sha256:/, '').slice(0, 12),
    tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
    bytes: i.Size ?? 0,
  }));
}

/**
 * Containers and images from the Docker Engine API on its Unix socket. No socket means no
 * Docker on this node, which is normal: `status` is `absent`, not an error.
 */
export async function dockerInventory(socketPath: string): Promise<{
  containers: Container[];
  images: DockerImage[];
  status: string;
}> {
  if (!existsSync(socketPath)) return { containers: [], images: [], status: 'absent' };
  try {
    const [containers, images] = await Promise.all([
      getJson(socketPath, '/containers/json?all=1'),
      getJson(socketPath, '/images/json'),
    ]);
    return { containers: toContainers(containers), images: toImages(images), status: 'ok' };
  } catch (err) {
    return { containers: [], images: [], status: `error: ${errorMessage(err)}` };
  }
}
