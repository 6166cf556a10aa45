//! Generates the prost messages (and, with feature `grpc`, the tonic services) from
//! `otwatch/v1/*.proto` with protox (a protobuf compiler in Rust), so building needs no
//! `protoc` on the machine.
//!
//! The messages of `inventory.proto` are the report model: they derive serde, so the sensor's
//! JSON report is these types serialised (field order = declaration order in the proto). Every
//! field has its proto3 default when absent from the JSON (older reports and stores read), and
//! an unset `optional` field is left out of the JSON. Maps are `BTreeMap`, so the JSON is in key
//! order.

const INVENTORY: &str = "otwatch/v1/inventory.proto";
/// The operator API's messages derive serde too: the web console speaks them as JSON.
const MANAGER: &str = "otwatch/v1/manager.proto";

/// Report messages that sort (inside assets, connections and alerts).
const ORDERED: &[&str] = &[
    "ProtocolUse",
    "Evidence",
    "AccessedRanges",
    "CleartextLogin",
    "AlertEvidence",
];

/// Fields added after the report's JSON was fixed, left out of the JSON when unset so reports
/// of captures without them stay as they were: (message, field, serde's skip test).
const OMITTED_WHEN_UNSET: &[(&str, &str, &str)] = &[
    ("Asset", "vlans", "Vec::is_empty"),
    ("Connection", "vlan", "crate::is_zero"),
    ("Asset", "segments", "Vec::is_empty"),
    ("Connection", "segment", "crate::is_zero"),
    ("Asset", "vulnerabilities", "Vec::is_empty"),
    ("Asset", "published", "Vec::is_empty"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [INVENTORY, "otwatch/v1/sensorlink.proto", MANAGER];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    // For gRPC server reflection (grpcurl works without the .proto files).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("otwatch_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    let mut config = prost_build::Config::new();
    config.btree_map(["."]);
    let inventory = fds
        .file
        .iter()
        .filter(|f| f.name() == INVENTORY || f.name() == MANAGER)
        .flat_map(|f| &f.message_type);
    for m in inventory {
        let path = format!(".otwatch.v1.{}", m.name());
        config.type_attribute(
            &path,
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        );
        if ORDERED.contains(&m.name()) {
            config.type_attribute(&path, "#[derive(PartialOrd, Ord)]");
        }
        for f in &m.field {
            if let Some((_, _, skip)) = OMITTED_WHEN_UNSET
                .iter()
                .find(|(msg, field, _)| *msg == m.name() && *field == f.name())
            {
                config.field_attribute(
                    format!("{path}.{}", f.name()),
                    format!("#[serde(skip_serializing_if = \"{skip}\")]"),
                );
            }
            if f.proto3_optional() {
                config.field_attribute(
                    format!("{path}.{}", f.name()),
                    "#[serde(skip_serializing_if = \"Option::is_none\")]",
                );
            }
        }
    }
    #[cfg(feature = "grpc")]
    config.service_generator(
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .service_generator(),
    );
    config.compile_fds(fds)?;
    Ok(())
}
