import { describe, expect, it } from 'vitest';
import { dockerInventory, toContainers, toImages } from './docker.js';

describe('Docker Engine API answers', () => {
  it('keeps name, image, state, bind mounts and the compose folder', () => {
    expect(
      toContainers([
        {
          Id: '0123456789abcdef',
          Names: ['/cmms-backend'],
          Image: 'acme/cmms:1.4',
          State: 'running',
          Mounts: [
            { Type: 'bind', Source: '/opt/cmms' },
            { Type: 'volume', Source: '/var/lib/docker/volumes/x' },
          ],
          Labels: { 'com.docker.compose.project.working_dir': '/opt/stack' },
        },
        {},
      ]),
    ).toEqual([
      {
        id: '0123456789ab',
        name: 'cmms-backend',
        image: 'acme/cmms:1.4',
        state: 'running',
        mounts: ['/opt/cmms'],
        workingDir: '/opt/stack',
      },
      { id: '', name: '', image: '', state: 'unknown', mounts: [] },
    ]);
    expect(toContainers({ message: 'not a list' })).toEqual([]);
  });

  it('drops untagged image names', () => {
    expect(
      toImages([{ Id: 'sha256:abcdef0123456789', RepoTags: ['<none>:<none>'], Size: 5 }]),
    ).toEqual([{ id: 'abcdef012345', tags: [], bytes: 5 }]);
  });

  it('treats a missing socket as no Docker, not as an error', async () => {
    expect(await dockerInventory('/nonexistent/docker.sock')).toEqual({
      containers: [],
      images: [],
      status: 'absent',
    });
  });
});
