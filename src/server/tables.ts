/**
 * Server-side printing, as Kubernetes' `Table` responses: the columns kubectl shows for each kind
 * (priority 1 columns appear with -o wide). `berth get` prints the same tables.
 */
import { age } from '../api/duration.js';
import { CONDITION } from '../api/conditions.js';
import type { KubeObject } from '../store/types.js';

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'date';
  format: string;
  description: string;
  priority: number;
}

type Cell = string | number;
type Row = (o: any, now: number) => Cell[];

const col = (name: string, priority = 0, type: ColumnDefinition['type'] = 'string'): ColumnDefinition => ({
  name,
  type,
  format: name === 'Name' ? 'name' : '',
  description: name,
  priority,
});

const created = (o: KubeObject, now: number): string => age(o.metadata.creationTimestamp ?? undefined, now);
const none = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : String(v));

/** kubectl's TARGETS: each metric's current/target (`cpu: 45%/50%`), `<unknown>` before a reading; at most two, then `+ N more...`. */
function hpaTargets(h: any): string {
  const specs: any[] = h.spec?.metrics ?? [];
  const statuses: any[] = h.status?.currentMetrics ?? [];
  const shown = specs.slice(0, 2).map((m, i) => {
    const s = statuses[i];
    const unknown = '<unknown>';
    switch (m.type) {
      case 'Resource':
      case 'ContainerResource': {
        const src = m.type === 'Resource' ? m.resource : m.containerResource;
        const cur = m.type === 'Resource' ? s?.resource?.current : s?.containerResource?.current;
        const [current, target] =
          src?.target?.averageValue !== undefined
            ? [cur?.averageValue ?? unknown, String(src.target.averageValue)]
            : [
                cur?.averageUtilization !== undefined ? `${cur.averageUtilization}%` : unknown,
                src?.target?.averageUtilization !== undefined ? `${src.target.averageUtilization}%` : '<auto>',
              ];
        return `${src?.name}: ${current}/${target}`;
      }
      case 'Pods':
        return `${s?.pods?.current?.averageValue ?? unknown}/${m.pods?.target?.averageValue}`;
      case 'Object':
        return m.object?.target?.averageValue !== undefined
          ? `${s?.object?.current?.averageValue ?? unknown}/${m.object.target.averageValue} (avg)`
          : `${s?.object?.current?.value ?? unknown}/${m.object?.target?.value}`;
      default:
        return `${unknown}/${m.external?.target?.value ?? m.external?.target?.averageValue}`;
    }
  });
  if (!shown.length) return '<none>';
  return shown.join(', ') + (specs.length > 2 ? ` + ${specs.length - 2} more...` : '');
}

function podStatus(pod: any): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  for (const cs of pod.status?.initContainerStatuses ?? []) {
    if (cs.state?.terminated && cs.state.terminated.exitCode !== 0)
      return `Init:${cs.state.terminated.reason ?? 'Error'}`;
    if (cs.state?.waiting?.reason && cs.state.waiting.reason !== 'PodInitializing')
      return `Init:${cs.state.waiting.reason}`;
  }
  let reason = pod.status?.reason ?? pod.status?.phase ?? 'Pending';
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
  }
  return reason;
}

function servicePorts(svc: any): string {
  const ports = (svc.spec?.ports ?? []).map(
    (p: any) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`,
  );
  return ports.length ? ports.join(',') : '<none>';
}

/** ReplicaSets and ReplicationControllers: desired, current and ready pods. */
const REPLICAS_TABLE = {
  columns: [
    col('Name'),
    col('Desired', 0, 'integer'),
    col('Current', 0, 'integer'),
    col('Ready', 0, 'integer'),
    col('Age'),
  ],
  row: ((r, now) => [
    r.metadata.name,
    r.spec?.replicas ?? 0,
    r.status?.replicas ?? 0,
    r.status?.readyReplicas ?? 0,
    created(r, now),
  ]) as Row,
};

const TABLES: Record<string, { columns: ColumnDefinition[]; row: Row }> = {
  Pod: {
    columns: [
      col('Name'),
      col('Ready'),
      col('Status'),
      col('Restarts', 0, 'integer'),
      col('Age'),
      col('IP', 1),
      col('Node', 1),
    ],
    row: (p, now) => {
      const statuses = p.status?.containerStatuses ?? [];
      const total = (p.spec?.containers ?? []).length;
      const ready = statuses.filter((c: any) => c.ready).length;
      const restarts = statuses.reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0);
      return [
        p.metadata.name,
        `${ready}/${total}`,
        podStatus(p),
        restarts,
        created(p, now),
        none(p.status?.podIP),
        none(p.spec?.nodeName),
      ];
    },
  },
  Deployment: {
    columns: [
      col('Name'),
      col('Ready'),
      col('Up-to-date', 0, 'integer'),
      col('Available', 0, 'integer'),
      col('Age'),
      col('Containers', 1),
      col('Images', 1),
      col('Selector', 1),
    ],
    row: (d, now) => [
      d.metadata.name,
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      created(d, now),
      (d.spec?.template?.spec?.containers ?? []).map((c: any) => c.name).join(','),
      (d.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(','),
      Object.entries(d.spec?.selector?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ],
  },
  ReplicaSet: REPLICAS_TABLE,
  ReplicationController: REPLICAS_TABLE,
  DaemonSet: {
    columns: [
      col('Name'),
      col('Desired', 0, 'integer'),
      col('Current', 0, 'integer'),
      col('Ready', 0, 'integer'),
      col('Up-to-date', 0, 'integer'),
      col('Available', 0, 'integer'),
      col('Age'),
    ],
    row: (d, now) => [
      d.metadata.name,
      d.status?.desiredNumberScheduled ?? 0,
      d.status?.currentNumberScheduled ?? 0,
      d.status?.numberReady ?? 0,
      d.status?.updatedNumberScheduled ?? 0,
      d.status?.numberAvailable ?? 0,
      created(d, now),
    ],
  },
  StatefulSet: {
    columns: [col('Name'), col('Ready'), col('Age')],
    row: (s, now) => [s.metadata.name, `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`, created(s, now)],
  },
  Job: {
    columns: [col('Name'), col('Status'), col('Completions'), col('Age')],
    row: (j, now) => {
      const done = (j.status?.conditions ?? []).find(
        (c: any) => (c.type === CONDITION.Complete || c.type === CONDITION.Failed) && c.status === 'True',
      );
      return [
        j.metadata.name,
        done ? done.type : j.spec?.suspend ? 'Suspended' : 'Running',
        `${j.status?.succeeded ?? 0}/${j.spec?.completions ?? 1}`,
        created(j, now),
      ];
    },
  },
  CronJob: {
    columns: [
      col('Name'),
      col('Schedule'),
      col('Suspend'),
      col('Active', 0, 'integer'),
      col('Last schedule'),
      col('Age'),
    ],
    row: (c, now) => [
      c.metadata.name,
      c.spec?.schedule ?? '',
      c.spec?.suspend ? 'True' : 'False',
      (c.status?.active ?? []).length,
      c.status?.lastScheduleTime ? age(c.status.lastScheduleTime, now) : '<none>',
      created(c, now),
    ],
  },
  Service: {
    columns: [
      col('Name'),
      col('Type'),
      col('Cluster-IP'),
      col('External-IP'),
      col('Port(s)'),
      col('Age'),
      col('Selector', 1),
    ],
    row: (s, now) => [
      s.metadata.name,
      s.spec?.type ?? 'ClusterIP',
      none(s.spec?.clusterIP),
      (s.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).join(',') ||
        (s.spec?.externalName ?? '<none>'),
      servicePorts(s),
      created(s, now),
      Object.entries(s.spec?.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '<none>',
    ],
  },
  Ingress: {
    columns: [col('Name'), col('Class'), col('Hosts'), col('Address'), col('Ports'), col('Age')],
    row: (i, now) => [
      i.metadata.name,
      none(i.spec?.ingressClassName),
      (i.spec?.rules ?? []).map((r: any) => r.host ?? '*').join(',') || '*',
      (i.status?.loadBalancer?.ingress ?? []).map((x: any) => x.ip ?? x.hostname).join(','),
      (i.spec?.tls ?? []).length ? '80, 443' : '80',
      created(i, now),
    ],
  },
  ConfigMap: {
    columns: [col('Name'), col('Data', 0, 'integer'), col('Age')],
    row: (c, now) => [
      c.metadata.name,
      Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length,
      created(c, now),
    ],
  },
  Secret: {
    columns: [col('Name'), col('Type'), col('Data', 0, 'integer'), col('Age')],
    row: (s, now) => [s.metadata.name, s.type ?? 'Opaque', Object.keys(s.data ?? {}).length, created(s, now)],
  },
  ControllerRevision: {
    columns: [col('Name'), col('Controller'), col('Revision', 0, 'integer'), col('Age')],
    row: (r, now) => {
      const owner = (r.metadata.ownerReferences ?? []).find((o: any) => o.controller);
      return [
        r.metadata.name,
        owner ? `${owner.kind.toLowerCase()}.${String(owner.apiVersion).split('/')[0]}/${owner.name}` : '<none>',
        r.revision,
        created(r, now),
      ];
    },
  },
  Lease: {
    columns: [col('Name'), col('Holder'), col('Age')],
    row: (l, now) => [l.metadata.name, l.spec?.holderIdentity ?? '', created(l, now)],
  },
  EndpointSlice: {
    columns: [col('Name'), col('AddressType'), col('Ports'), col('Endpoints'), col('Age')],
    row: (e, now) => {
      const ports = (e.ports ?? []).map((p: any) => String(p.port ?? '')).join(',') || '<unset>';
      const addresses = (e.endpoints ?? []).flatMap((x: any) => x.addresses ?? []);
      return [
        e.metadata.name,
        e.addressType,
        ports,
        addresses.length
          ? addresses.slice(0, 3).join(',') + (addresses.length > 3 ? ` + ${addresses.length - 3} more...` : '')
          : '<unset>',
        created(e, now),
      ];
    },
  },
  HorizontalPodAutoscaler: {
    columns: [
      col('Name'),
      col('Reference'),
      col('Targets'),
      col('MinPods', 0, 'integer'),
      col('MaxPods', 0, 'integer'),
      col('Replicas', 0, 'integer'),
      col('Age'),
    ],
    row: (h, now) => [
      h.metadata.name,
      `${h.spec?.scaleTargetRef?.kind}/${h.spec?.scaleTargetRef?.name}`,
      hpaTargets(h),
      h.spec?.minReplicas ?? '<unset>',
      h.spec?.maxReplicas,
      h.status?.currentReplicas ?? 0,
      created(h, now),
    ],
  },
  PodDisruptionBudget: {
    columns: [
      col('Name'),
      col('Min Available'),
      col('Max Unavailable'),
      col('Allowed Disruptions', 0, 'integer'),
      col('Age'),
    ],
    row: (b, now) => [
      b.metadata.name,
      none(b.spec?.minAvailable) === '<none>' ? 'N/A' : String(b.spec.minAvailable),
      b.spec?.maxUnavailable === undefined ? 'N/A' : String(b.spec.maxUnavailable),
      b.status?.disruptionsAllowed ?? 0,
      created(b, now),
    ],
  },
  Namespace: {
    columns: [col('Name'), col('Status'), col('Age')],
    row: (n, now) => [n.metadata.name, n.status?.phase ?? 'Active', created(n, now)],
  },
  Node: {
    columns: [col('Name'), col('Status'), col('Roles'), col('Age'), col('Version'), col('Internal-IP', 1)],
    row: (n, now) => {
      const ready = (n.status?.conditions ?? []).find((c: any) => c.type === CONDITION.Ready);
      const status =
        (ready?.status === 'True' ? 'Ready' : 'NotReady') + (n.spec?.unschedulable ? ',SchedulingDisabled' : '');
      const roles =
        Object.keys(n.metadata.labels ?? {})
          .filter((k) => k.startsWith('node-role.kubernetes.io/'))
          .map((k) => k.split('/')[1])
          .join(',') || '<none>';
      return [
        n.metadata.name,
        status,
        roles,
        created(n, now),
        n.status?.nodeInfo?.kubeletVersion ?? '',
        none((n.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address),
      ];
    },
  },
  Event: {
    columns: [col('Last seen'), col('Type'), col('Reason'), col('Object'), col('Message')],
    row: (e, now) => [
      age(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp, now),
      e.type ?? '',
      e.reason ?? '',
      `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
      e.message ?? '',
    ],
  },
  PersistentVolume: {
    columns: [
      col('Name'),
      col('Capacity'),
      col('Access modes'),
      col('Reclaim policy'),
      col('Status'),
      col('Claim'),
      col('Storageclass'),
      col('Reason'),
      col('Age'),
    ],
    row: (v, now) => [
      v.metadata.name,
      v.spec?.capacity?.storage ?? '',
      accessModes(v.spec?.accessModes),
      v.spec?.persistentVolumeReclaimPolicy ?? 'Retain',
      v.metadata.deletionTimestamp ? 'Terminating' : (v.status?.phase ?? 'Pending'),
      v.spec?.claimRef ? `${v.spec.claimRef.namespace}/${v.spec.claimRef.name}` : '',
      v.spec?.storageClassName ?? '',
      v.status?.reason ?? '',
      created(v, now),
    ],
  },
  StorageClass: {
    columns: [
      col('Name'),
      col('Provisioner'),
      col('Reclaimpolicy'),
      col('Volumebindingmode'),
      col('Allowvolumeexpansion'),
      col('Age'),
    ],
    row: (c, now) => [
      c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true'
        ? `${c.metadata.name} (default)`
        : c.metadata.name,
      c.provisioner ?? '',
      c.reclaimPolicy ?? 'Delete',
      c.volumeBindingMode ?? 'Immediate',
      String(c.allowVolumeExpansion ?? false),
      created(c, now),
    ],
  },
  PersistentVolumeClaim: {
    columns: [
      col('Name'),
      col('Status'),
      col('Volume'),
      col('Capacity'),
      col('Access modes'),
      col('Storageclass'),
      col('Age'),
    ],
    row: (p, now) => [
      p.metadata.name,
      p.metadata.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending'),
      p.spec?.volumeName ?? '',
      p.status?.capacity?.storage ?? '',
      accessModes(p.spec?.accessModes),
      p.spec?.storageClassName ?? '',
      created(p, now),
    ],
  },
  Endpoints: {
    columns: [col('Name'), col('Endpoints'), col('Age')],
    row: (e, now) => {
      const eps = (e.subsets ?? []).flatMap((s: any) =>
        (s.addresses ?? []).flatMap((a: any) => (s.ports ?? [{ port: '' }]).map((p: any) => `${a.ip}:${p.port}`)),
      );
      return [
        e.metadata.name,
        eps.length ? eps.slice(0, 3).join(',') + (eps.length > 3 ? ` + ${eps.length - 3} more...` : '') : '<none>',
        created(e, now),
      ];
    },
  },
  Application: {
    columns: [
      col('Name'),
      col('Sync status'),
      col('Health status'),
      col('Revision'),
      col('Age'),
      col('Repo', 1),
      col('Path', 1),
    ],
    row: (a, now) => [
      a.metadata.name,
      a.status?.sync?.status ?? 'Unknown',
      a.status?.health?.status ?? 'Unknown',
      // A rollback or a pinned revision holds the app: say so beside the revision.
      (a.status?.sync?.revision ?? '').slice(0, 7) +
        (a.status?.rollback?.state === 'Paused'
          ? a.status.rollback.kind === 'revision'
            ? ' (pinned)'
            : ' (rolled back)'
          : ''),
      created(a, now),
      a.spec?.source?.repoURL ?? '',
      a.spec?.source?.path ?? '',
    ],
  },
};

const DEFAULT_TABLE = {
  columns: [col('Name'), col('Age')],
  row: ((o: KubeObject, now: number) => [o.metadata.name, created(o, now)]) as Row,
};

export function tableFor(kind: string) {
  return TABLES[kind] ?? DEFAULT_TABLE;
}

export function toTable(kind: string, items: KubeObject[], listMeta: Record<string, unknown>, now = Date.now()) {
  const t = tableFor(kind);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: t.columns,
    rows: items.map((o) => ({
      cells: t.row(o, now),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

/** Access modes as kubectl abbreviates them: RWO, ROX, RWX, RWOP. */
function accessModes(modes: string[] | undefined): string {
  const short: Record<string, string> = {
    ReadWriteOnce: 'RWO',
    ReadOnlyMany: 'ROX',
    ReadWriteMany: 'RWX',
    ReadWriteOncePod: 'RWOP',
  };
  return (modes ?? []).map((m) => short[m] ?? m).join(',');
}
