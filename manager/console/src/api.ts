// The console's side of the back-end contract: JSON calls to /api/v1/<Method> (the Manager
// RPCs with proto field names), the session, and the Watch event stream.

export interface Session {
  name: string;
  role: "viewer" | "analyst" | "admin";
  csrf: string;
}

/** An error answer: `{"code","message"}`, with the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";

export function setCsrf(token: string): void {
  csrf = token;
}

async function errorOf(resp: Response): Promise<ApiError> {
  let code = "unknown";
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (typeof body.code === "string") code = body.code;
    if (typeof body.message === "string" && body.message) message = body.message;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return new ApiError(resp.status, code, message);
}

function goToLogin(): never {
  window.location.assign("/login");
  throw new ApiError(401, "unauthenticated", "session ended");
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body ?? {}),
  });
  if (resp.status === 401) goToLogin();
  if (!resp.ok) throw await errorOf(resp);
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

/** Requests started before the page asked for them ([`prefetch`]), by path. */
const early = new Map<string, Promise<Response>>();

/** Starts a GET now, for a page that will ask for it (once) with [`get`]. */
export function prefetch(path: string): void {
  if (!early.has(path)) early.set(path, fetch(path, { credentials: "same-origin" }));
}

export async function get<T>(path: string): Promise<T> {
  const started = early.get(path);
  early.delete(path);
  const resp = await (started ?? fetch(path, { credentials: "same-origin" }));
  if (resp.status === 401) goToLogin();
  if (!resp.ok) throw await errorOf(resp);
  return (await resp.json()) as T;
}

/** One unary Manager RPC. */
export function rpc<T>(method: string, request: object = {}): Promise<T> {
  return post<T>(`/api/v1/${method}`, request);
}

/** Every page of a List RPC, `key` naming the repeated field (assets, alerts, ...). */
export async function listAll<T>(method: string, key: string, request: object = {}): Promise<T[]> {
  const all: T[] = [];
  let page_token = "";
  for (;;) {
    const resp = await rpc<Record<string, unknown>>(method, { ...request, page_size: 1000, page_token });
    all.push(...((resp[key] as T[]) ?? []));
    page_token = (resp.next_page_token as string) ?? "";
    if (!page_token) return all;
  }
}

export async function session(): Promise<Session> {
  const s = await get<Session>("/api/session");
  setCsrf(s.csrf);
  return s;
}

export async function logout(): Promise<void> {
  try {
    await post("/api/logout", {});
  } finally {
    window.location.assign("/login");
  }
}

// ---- The data model (proto/otwatch/v1/*.proto), the fields the console reads. ----

export interface Site {
  name: string;
  sensors: number;
  assets: number;
  open_alerts: number;
}

export interface Evidence {
  field: string;
  value: string;
  source: string;
  first_seen: string;
}

export interface Vulnerability {
  cve: string;
  advisory: string;
  title: string;
  cvss: number;
  severity: string;
  status: string;
  reason: string;
  fixed_in: string;
  remediation: string;
  kev: boolean;
  product: string;
  end_of_life: boolean;
}

export interface Asset {
  id: string;
  macs: string[];
  ips: string[];
  vendor: string;
  hostname: string;
  model: string;
  firmware: string;
  os: string;
  serial: string;
  device_type: string;
  purdue_level?: number;
  protocols: { name: string; role: string; port: number }[];
  packets: number;
  bytes: number;
  first_seen: string;
  last_seen: string;
  names: string[];
  evidence: Evidence[];
  vlans: number[];
  vulnerabilities: Vulnerability[];
}

export interface FleetAsset {
  id: string;
  site: string;
  asset: Asset;
  seen_by: { sensor_id: string; sensor_asset_id: string; first_seen: string; last_seen: string }[];
  approved: boolean;
  shadow: boolean;
  /** Tags playbooks put on it (docs/PLAYBOOKS.md). */
  tags?: string[];
}

export interface Connection {
  client: string;
  server: string;
  transport: string;
  port: number;
  protocol: string;
  packets: number;
  bytes: number;
  function_codes: string[];
  operations: string[];
  cleartext_logins: { user: string; protocol: string; first_seen: string }[];
  first_seen: string;
  last_seen: string;
  flows: number;
}

export interface FleetConnection {
  site: string;
  connection: Connection;
  sensors: string[];
}

export interface Alert {
  id: string;
  kind: string;
  severity: string;
  title: string;
  description: string;
  mitre: string[];
  src: string;
  dst: string;
  asset: string;
  protocol: string;
  first_seen: string;
  last_seen: string;
  count: number;
  evidence: { field: string; value: string }[];
}

export interface FleetAlert {
  id: string;
  site: string;
  sensor_id: string;
  alert: Alert;
  state: string;
  updated_at: string;
  updated_by: string;
  /** What operators and playbooks did with the alert, oldest first. */
  history?: AlertNote[];
}

export interface AlertNote {
  at: string;
  by: string;
  state: string;
  comment: string;
}

export interface Sensor {
  id: string;
  site: string;
  hostname: string;
  version: string;
  status: string;
  enrolled_at: string;
  last_seen: string;
  backlog: number;
  applied_seq: number;
  capture_mode: string;
  drops: number;
  certificate_not_after: string;
  over_quota: number;
  assets: number;
  connections: number;
  alerts: number;
}

export interface RiskAssessment {
  site: string;
  security_score: number;
  band: string;
  assets: { asset: string; name: string; risk: number; role: string; exposure: string; findings: { kind: string; severity: number; detail: string }[] }[];
  remediations: { asset: string; name: string; action: string; cves: string[]; max_cvss: number; risk_reduced: number }[];
  internet: { asset: string; name: string; remote: string[] }[];
  single_points_of_failure: { asset: string; name: string; cut_controllers: string[]; cut_from: string[] }[];
  level_skips: { enterprise: string; field: string }[];
  trend: { date: string; security_score: number; band: string }[];
  shadow_devices: { asset: string; name: string; device_type: string; vendor: string; model: string; first_seen: string }[];
  unapproved_sites: string[];
}

export interface MapNode {
  id: string;
  site: string;
  label: string;
  type: string;
  level: number | null;
  vendor: string;
  model: string;
  ips: string[];
  risk: number;
  internet: boolean;
  shadow: boolean;
  spof: boolean;
  alerts: number;
  protocols: string[];
  subnet: string;
}

export interface MapEdge {
  /** Indices into MapData.nodes. */
  source: number;
  target: number;
  bytes: number;
  packets: number;
  protocols: string[];
}

export interface MapData {
  nodes: MapNode[];
  edges: MapEdge[];
}

/** A Watch event: `event: change`, data `{"kind","site","id","at"}`. */
export interface Change {
  kind: string;
  site: string;
  id: string;
  at: string;
}

/** A fleet asset's name for people: hostname, else first name, else first IP, else its id. */
export function assetName(a: Asset): string {
  return a.hostname || a.names?.[0] || a.ips?.[0] || a.macs?.[0] || a.id;
}

export const LEVEL_NAMES: Record<number, string> = {
  5: "L5 Enterprise",
  4: "L4 Business",
  3: "L3 Operations",
  2: "L2 Supervisory",
  1: "L1 Control",
  0: "L0 Process",
};

export function levelName(level: number | null | undefined): string {
  return level === null || level === undefined ? "Unknown level" : (LEVEL_NAMES[level] ?? `L${level}`);
}
