/**
 * The Butane file of a host (`variant: fcos`): the same first-boot content as its Ignition
 * config (ignition.ts), written for a person to review — inline file contents, octal modes and
 * a comment on every entry saying why it is there. `butane --strict HOST.bu` gives the same
 * configuration kubeha writes to HOST.ign (file contents may differ only in encoding).
 * Pure and byte-deterministic.
 */
import { Document, Scalar, YAMLMap, YAMLSeq, isMap } from "yaml";
import { BUTANE_VERSION, DEFAULT_IGNITION_VERSION, INSTALL_ATTEMPTS, dataUrl, type FirstBoot, type IgnitionVersion } from "./ignition.ts";
import { PATHS } from "./paths.ts";

function octal(mode: number): Scalar {
  const s = new Scalar(mode);
  s.format = "OCT";
  return s;
}

/** The Butane YAML for one host. */
export function renderButane(fb: FirstBoot, version: IgnitionVersion = DEFAULT_IGNITION_VERSION): string {
  const d = fb.disk;
  const doc = new Document(
    {
      variant: "fcos",
      version: BUTANE_VERSION[version],
      ...(fb.users.length
        ? {
            passwd: {
              users: fb.users.map((u) => ({
                name: u.name,
                ...(u.groups.length ? { groups: u.groups } : {}),
                ...(u.passwordHash !== undefined ? { password_hash: u.passwordHash } : {}),
                ...(u.sshAuthorizedKeys.length ? { ssh_authorized_keys: u.sshAuthorizedKeys } : {}),
              })),
            },
          }
        : {}),
      storage: {
        ...(d
          ? {
              disks: [{ device: d.device, wipe_table: true, partitions: [{ number: 1, label: d.label }] }],
              filesystems: [{ device: `/dev/disk/by-partlabel/${d.label}`, format: d.format, wipe_filesystem: true, label: d.label, ...(d.directories.length ? { path: d.path } : {}) }],
              ...(d.directories.length ? { directories: d.directories.map((x) => ({ path: x.path, mode: 0 })) } : {}),
            }
          : {}),
        files: fb.files.map((f) => ({
          path: f.path,
          mode: 0,
          overwrite: true,
          contents: typeof f.content === "string" ? { inline: f.content } : { source: dataUrl(f.content) },
        })),
      },
      systemd: {
        units: fb.units.map((u) => ({
          name: u.name,
          ...(u.enabled !== undefined ? { enabled: u.enabled } : {}),
          ...(u.contents !== undefined ? { contents: u.contents } : {}),
          ...(u.dropins ? { dropins: u.dropins.map((x) => ({ name: x.name, contents: x.contents })) } : {}),
        })),
      },
    },
    // YAML 1.1 so modes print as 0644, the way Butane's documentation writes them.
    { version: "1.1" },
  );
  doc.commentBefore = [
    ` Butane config of host ${fb.host} (cluster ${fb.cluster}), rendered by kubeha.`,
    ` kubeha wrote the Ignition config beside it (${fb.host}.ign, spec ${version}) from the same content;`,
    " this file is for review (or `butane --strict` if you prefer to transpile it yourself).",
    ` At first boot ${PATHS.installUnit.replace(/^.*\//, "")} runs ${PATHS.installScript}, which places the`,
    ` files staged under ${PATHS.installRoot}/ and does the host's part of the cluster (at most ${INSTALL_ATTEMPTS} attempts).`,
    " SECRETS: this file and the .ign hold private keys and the bootstrap token; keep both 0600 and",
    " deliver them over a private channel (docs/ignition.md).",
  ].join("\n");
  const storage = doc.get("storage") as YAMLMap;
  const files = storage.get("files") as YAMLSeq;
  files.items.forEach((item, i) => {
    const f = fb.files[i]!;
    if (!isMap(item)) return;
    item.set("mode", octal(f.mode));
    item.commentBefore = " " + f.why;
  });
  const units = (doc.get("systemd") as YAMLMap).get("units") as YAMLSeq;
  units.items.forEach((item, i) => {
    if (isMap(item)) item.commentBefore = " " + fb.units[i]!.why;
  });
  if (d) {
    (storage.get("disks") as YAMLSeq).commentBefore = ` data disk (spec.provisioning.dataDisk): wiped, one ${d.format} partition, mounted at ${d.path}`;
    const dirs = storage.get("directories") as YAMLSeq | undefined;
    if (dirs) {
      dirs.commentBefore = ` created on the data disk (Ignition mounts it at ${d.path} first): the container runtime's storage, bind-mounted onto its root`;
      dirs.items.forEach((item, i) => {
        if (isMap(item)) item.set("mode", octal(d.directories[i]!.mode));
      });
    }
  }
  return doc.toString({ lineWidth: 0 });
}
