import type { ProjectView } from '../../inventory/fleet-view.js';

/** A project view with defaults, for the audit's table tests. */
export function view(id: string, fields: Partial<ProjectView> = {}): ProjectView {
  const [node, path] = id.split(':') as [string, string];
  return {
    id,
    node,
    path,
    name: path.split('/').pop()!,
    kinds: ['python'],
    dirty: 0,
    ahead: 0,
    files: 10,
    bytes: 1000,
    fingerprint: `fp-${id}`,
    modifiedAt: 1000,
    usage: 'experimental',
    usedBy: [],
    entries: [],
    ...fields,
  };
}
