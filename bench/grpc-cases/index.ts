/**
 * Every family of gRPC cases, in the order they are built (a family may
 * compare to a baseline an earlier one built: BASELINE comes from dummy).
 * A new family is one module here and one line below.
 */
import { batchCases } from './batch';
import type { CaseFamily } from './case';
import { dummyCases } from './dummy';
import { pythonCases } from './python';
import { remoteCases } from './remote';
import { representorCases } from './representor';

export const FAMILIES: readonly CaseFamily[] = [dummyCases, representorCases, batchCases, remoteCases, pythonCases];
