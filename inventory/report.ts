import { z } from 'zod';
import { codeFactsSchema, entryPointSchema } from './code/facts.js';

/**
 * The inventory report: what one node runs and holds, as published retained on
 * `factorylm/<site>/_nodes/<node>/inventory` and read by `factorylm audit` and the gateway.
 * The schema is the contract: consumers validate every report with it, since a report comes
 * from another machine.
 */
export const REPORT_SCHEMA_VERSION = 1;

/** One file: path relative to its project, content hash (or `size:<bytes>` when not read), size. */
export const fileEntrySchema = z.tuple([z.string(), z.string(), z.number().int().min(0)]);

export const gitInfoSchema = z.strictObject({
  head: z.string().optional().describe('HEAD commit id; absent in a repository without commits'),
  branch: z.string().optional().describe('Checked-out branch; absent on a detached HEAD'),
  remote: z.string().optional().describe('URL of remote "origin" (else the first), no credentials'),
  dirty: z.number().int().min(0).describe('Files changed, staged or untracked'),
  lastCommitAt: z.number().optional().describe('Committer date of HEAD, ms since epoch'),
  ahead: z.number().int().optional().describe('Commits on HEAD not on its upstream'),
  behind: z.number().int().optional().describe('Commits on the upstream not on HEAD'),
  error: z.string().optional().describe('Why git could not tell (not installed, broken repo)'),
});

export const PROJECT_KINDS = ['git', 'python', 'node', 'scripts'] as const;

export const projectSchema = z.strictObject({
  path: z.string().describe('Absolute folder of the project on its node'),
  name: z.string().describe('Package name, else the git remote repository name, else the folder'),
  kinds: z.array(z.enum(PROJECT_KINDS)).describe('What marks it as a project'),
  version: z.string().optional().describe('Version from package.json, pyproject.toml or setup.py'),
  git: gitInfoSchema.optional(),
  python: z
    .strictObject({
      manifests: z.array(z.string()),
      dependencies: z.array(z.string()),
    })
    .optional(),
  node: z
    .strictObject({
      lockfile: z.string().optional(),
      dependencies: z.array(z.string()),
    })
    .optional(),
  files: z.number().int().min(0).describe('Files counted (hashed, unreadable and over the cap)'),
  bytes: z.number().min(0).describe('Their size in bytes'),
  languages: z.record(z.string(), z.strictObject({ files: z.number(), bytes: z.number() })),
  fingerprint: z.string().describe('Hash of the sorted "<hash> <path>" list of its files'),
  entries: z.array(fileEntrySchema).describe('Every file with its content hash and size'),
  secrets: z.array(z.string()).describe('Secret files (.env, keys): by name only, never read'),
  tooLarge: z.number().int().min(0).describe('Files over the size cap, counted, not read'),
  unreadable: z.array(z.string()).describe('Files that could not be read (path and reason)'),
  modifiedAt: z.number().describe('Newest file modification time, ms since epoch'),
  code: z
    .strictObject({ entryPoints: z.array(entryPointSchema) })
    .optional()
    .describe('Entry points the project declares (console scripts, package.json, Dockerfile)'),
});

export const serviceSchema = z.strictObject({
  name: z.string(),
  state: z.string().describe('active, inactive, failed … or unknown when read from a unit file'),
  execStart: z.string().optional(),
  workingDirectory: z.string().optional(),
  file: z.string().optional().describe('Unit file'),
  project: z.string().optional().describe('Path of the project it runs, when one matches'),
});

export const containerSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  state: z.string(),
  mounts: z.array(z.string()).describe('Host paths bind-mounted into it'),
  workingDir: z.string().optional().describe('Compose project folder (label)'),
  project: z.string().optional(),
});

export const imageSchema = z.strictObject({
  id: z.string(),
  tags: z.array(z.string()),
  bytes: z.number(),
});

export const reportSchema = z.strictObject({
  schema: z.literal(REPORT_SCHEMA_VERSION),
  site: z.string().optional(),
  node: z.strictObject({
    name: z.string().min(1),
    hostname: z.string(),
    os: z.string(),
    arch: z.string(),
    version: z.string().describe('factorylm-edge version that made the report'),
  }),
  scannedAt: z.number(),
  durationMs: z.number(),
  roots: z.array(z.string()),
  maxFileBytes: z.number(),
  projects: z.array(projectSchema),
  services: z.array(serviceSchema),
  systemd: z.string().describe('ok, or why units could not be listed'),
  containers: z.array(containerSchema),
  images: z.array(imageSchema),
  docker: z.string().describe('ok, absent (no socket), or the error'),
  stats: z.strictObject({
    files: z.number(),
    bytes: z.number(),
    hashed: z.number().describe('Files read and hashed in this scan'),
    cached: z.number().describe('Files whose hash came from the cache (same path, size, mtime)'),
    tooLarge: z.number(),
    unreadable: z.number(),
    ignored: z.number().describe('Folders and files skipped by the ignore rules'),
    symlinks: z.number().describe('Symbolic links, never followed'),
    outsideProjects: z.number().describe('Files in no project folder'),
  }),
  code: z
    .strictObject({
      params: z.strictObject({ k: z.number(), w: z.number(), minFunctionTokens: z.number() }),
      stats: z.strictObject({
        codeFiles: z.number().describe('Python/JS/TS files found'),
        analyzed: z.number().describe('Distinct contents parsed in this scan'),
        cached: z.number().describe('Distinct contents whose facts came from the cache'),
        unparsed: z.number().describe('Distinct contents that did not parse cleanly'),
      }),
      facts: z.record(z.string(), codeFactsSchema).describe('Per content hash of a code file'),
    })
    .optional()
    .describe('Imports, functions and clone fingerprints of the code files (absent: not analysed)'),
});

export type InventoryReport = z.output<typeof reportSchema>;
export type Project = z.output<typeof projectSchema>;
export type FileEntry = z.output<typeof fileEntrySchema>;
export type GitInfo = z.output<typeof gitInfoSchema>;
export type ServiceUnit = z.output<typeof serviceSchema>;
export type Container = z.output<typeof containerSchema>;
export type DockerImage = z.output<typeof imageSchema>;
