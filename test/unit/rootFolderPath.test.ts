import { mulberry32 } from '../../dev/emulator/data/prng';
import {
  MAX_ROOT_FOLDER_PATH_LENGTH,
  rootFolderPathForScope,
  rootFolderPathProblem,
  toRootFolderPath,
} from '../../src/domain/rootFolderPath';

const MPA =
  '/providers/Microsoft.Billing/billingAccounts/d72daa4b-365d-5b26-096a-6d60fcc2374e:b70206fd-4bbb-459a-9438-9ed9b524175f_2019-05-31';

test('the paths Cost Management refuses are named with the reason', () => {
  expect(rootFolderPathProblem('/finops')).toMatch(/begin with "\/"/);
  expect(rootFolderPathProblem(MPA.slice(1))).toMatch(/reserved URL characters.*":"/);
  for (const c of [...":?#[]@!$&'()*+,;="]) expect(rootFolderPathProblem(`a${c}b`)).toMatch(/reserved/);
  expect(rootFolderPathProblem('a b')).toMatch(/spaces/);
  expect(rootFolderPathProblem('a%20b')).toMatch(/%/);
  expect(rootFolderPathProblem('a//b')).toMatch(/empty/);
  expect(rootFolderPathProblem('a/../b')).toMatch(/\.\./);
  expect(rootFolderPathProblem('x'.repeat(MAX_ROOT_FOLDER_PATH_LENGTH + 1))).toMatch(/at most/);
  for (const ok of ['', 'ad-hoc', 'finops/actual', 'a_b/c-d/e.f', 'exports/2025_v1', 'trailing/']) {
    expect(rootFolderPathProblem(ok)).toBeUndefined();
  }
});

test('an MCA/MPA billing account scope becomes a valid folder that keeps the id readable', () => {
  expect(rootFolderPathForScope(MPA)).toBe(
    'providers/Microsoft.Billing/billingAccounts/d72daa4b-365d-5b26-096a-6d60fcc2374e-b70206fd-4bbb-459a-9438-9ed9b524175f_2019-05-31',
  );
  expect(rootFolderPathForScope('/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80', 'cea')).toBe(
    'cea/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80',
  );
});

test('any text becomes a valid path, valid paths are kept as they are, and applying it twice changes nothing', () => {
  const random = mulberry32(12);
  const alphabet = "abcXYZ019/-_.:?#[]@!$&'()*+,;=% \\\t\u0000é😀";
  for (let i = 0; i < 5000; i++) {
    const length = Math.floor(random() * 40);
    const text = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const path = toRootFolderPath(text);
    expect(rootFolderPathProblem(path)).toBeUndefined();
    expect(toRootFolderPath(path)).toBe(path);
    if (rootFolderPathProblem(text) === undefined && !text.endsWith('/')) expect(path).toBe(text);
  }
  const long = toRootFolderPath(`${'abcdefghi/'.repeat(150)}`);
  expect(long.length).toBeLessThanOrEqual(MAX_ROOT_FOLDER_PATH_LENGTH);
  expect(rootFolderPathProblem(long)).toBeUndefined();
});
