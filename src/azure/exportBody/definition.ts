// The definition of an export: its dataset (and whether the scope offers it), the timeframe with a
// Custom period, and the dataSet (granularity, dataset version, columns, ReservationRecommendations
// filters).
import { isRecord } from '../../domain/json';
import {
  datasetsForScope,
  EXPORT_DATASETS,
  type ExportDataset,
  isGranularityAllowed,
  parseScope,
} from '../../domain/scope';
import {
  type ExportBodyInput,
  type ExportDefinitionBody,
  type ExportTimePeriod,
  FILTER_VALUES,
  type FilterItemName,
  GRANULARITIES,
  type Timeframe,
  TIMEFRAMES,
} from '../exportModels';
import { oneOf, type Problems } from './problems';
import { validateTimePeriod } from './timePeriod';

const COST_DATASETS: readonly string[] = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];
// Dataset versions seen: 2021-10-01, 2023-05-01, 1.0, 1.0r2, 1.2-preview, 1.0-preview(v1).
const DATA_VERSION = /^[0-9A-Za-z][0-9A-Za-z.()_-]{0,31}$/;

/** Checks `dataset`, and with a scope, that the scope offers it at the granularity asked for. */
export function checkDataset(problems: Problems, input: ExportBodyInput): ExportDataset | undefined {
  const dataset = oneOf(problems, 'dataset', input.dataset, EXPORT_DATASETS);
  if (dataset && input.scope !== undefined) {
    try {
      const scope = typeof input.scope === 'string' ? parseScope(input.scope) : input.scope;
      const allowed = datasetsForScope(scope);
      if (!allowed.includes(dataset)) {
        problems.add(
          'dataset',
          `${dataset} is not offered at ${scope.kind} scope ${scope.canonical} (allowed: ${allowed.join(', ')})`,
        );
      }
      if (typeof input.granularity === 'string' && !isGranularityAllowed(scope, dataset, input.granularity)) {
        problems.add('granularity', `${dataset} at ${scope.kind} scope does not accept ${input.granularity}`);
      }
    } catch (error) {
      problems.add('scope', error instanceof Error ? error.message : String(error));
    }
  }
  return dataset;
}

/** Checks `timeframe`, and `timePeriod`: required with Custom, refused with any other timeframe. */
export function checkTimeframe(
  problems: Problems,
  input: ExportBodyInput,
): { timeframe: Timeframe | undefined; timePeriod: ExportTimePeriod | undefined } {
  const timeframe = oneOf(problems, 'timeframe', input.timeframe, TIMEFRAMES);
  let timePeriod: ExportTimePeriod | undefined;
  if (timeframe === 'Custom') {
    if (input.timePeriod === undefined) problems.add('timePeriod', 'required when timeframe is Custom');
    else timePeriod = validateTimePeriod(input.timePeriod, 'timePeriod', problems);
  } else if (input.timePeriod !== undefined && timeframe) {
    problems.add('timePeriod', `only allowed with timeframe Custom, not ${timeframe}`);
  }
  return { timeframe, timePeriod };
}

/** Checks the dataSet fields: granularity (Daily by default for cost datasets), dataVersion, columns, filters. */
export function buildDataSet(
  problems: Problems,
  input: ExportBodyInput,
  dataset: ExportDataset | undefined,
): ExportDefinitionBody['dataSet'] {
  const granularity =
    input.granularity === undefined
      ? dataset && COST_DATASETS.includes(dataset)
        ? 'Daily'
        : undefined
      : oneOf(problems, 'granularity', input.granularity, GRANULARITIES);
  const configuration: NonNullable<NonNullable<ExportDefinitionBody['dataSet']>['configuration']> = {};
  if (input.dataVersion !== undefined) {
    if (typeof input.dataVersion === 'string' && DATA_VERSION.test(input.dataVersion)) {
      configuration.dataVersion = input.dataVersion;
    } else {
      problems.add(
        'dataVersion',
        `expected a dataset version like 2023-05-01 or 1.0r2, got ${JSON.stringify(input.dataVersion)}`,
      );
    }
  }
  if (input.columns !== undefined) {
    const columns: unknown = input.columns;
    if (
      Array.isArray(columns) &&
      columns.length > 0 &&
      columns.every((c): c is string => typeof c === 'string' && /^\w{1,128}$/.test(c)) &&
      new Set(columns).size === columns.length
    ) {
      configuration.columns = [...columns];
    } else {
      problems.add('columns', 'expected a non-empty list of distinct column names (letters, digits, _)');
    }
  }
  if (input.filters !== undefined) {
    const filters: unknown = input.filters;
    if (dataset !== 'ReservationRecommendations') {
      problems.add('filters', 'only supported for dataset ReservationRecommendations');
    } else if (!Array.isArray(filters)) {
      problems.add('filters', 'expected a list of { name, value }');
    } else {
      const built: { name: FilterItemName; value: string }[] = [];
      filters.forEach((f: unknown, i) => {
        const item = isRecord(f) ? f : {};
        const name = oneOf(
          problems,
          `filters[${i}].name`,
          item.name,
          Object.keys(FILTER_VALUES) as FilterItemName[],
        );
        if (!name) return;
        const value = oneOf(problems, `filters[${i}].value`, item.value, FILTER_VALUES[name]);
        if (value) built.push({ name, value });
      });
      configuration.filters = built;
    }
  }
  const dataSet: NonNullable<ExportDefinitionBody['dataSet']> = {};
  if (granularity) dataSet.granularity = granularity;
  if (Object.keys(configuration).length > 0) dataSet.configuration = configuration;
  return Object.keys(dataSet).length > 0 ? dataSet : undefined;
}
