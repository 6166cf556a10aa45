//! Every source of identity facts, with its rank: how far its word is trusted against other
//! sources of the same field when an asset's vendor, model, hostname, OS ... is picked (the
//! higher rank wins, then the earlier fact). The whole ranking is this one list.
//!
//! A source's `name` is what evidence and reports show, and all the sensor's store keeps of it
//! (the inventory's evidence records hold the name): [`named`] finds a stored name's source by
//! exact match over [`ALL`], and [`rank_of`] ranks a name not in the list (written by another
//! version) [`rank::DEFAULT`]. The inventory's derived evidence ([`IP_TTL`], [`L2_FORWARDING`],
//! [`OUI`]) adds details to the name in reports and is ranked by its source where it is made.

use otwatch_common::observation::Source;

/// The ranks, strongest first.
pub mod rank {
    /// A controller's own answer in its industrial protocol (device identification, SZL,
    /// identity objects, device attributes).
    pub const CONTROLLER: u8 = 95;
    /// What a device says of itself in a discovery or management protocol (LLDP, CDP, SNMP).
    pub const DISCOVERY: u8 = 85;
    /// SMB's native OS string.
    pub const SMB_OS: u8 = 80;
    /// NTLM's names and version.
    pub const NTLM: u8 = 75;
    /// The name a DHCP client asks for.
    pub const DHCP_NAME: u8 = 70;
    /// DHCP vendor class, NetBIOS and multicast DNS names.
    pub const NAME_SERVICE: u8 = 65;
    /// LLMNR names and SSH banners.
    pub const BANNER: u8 = 60;
    /// An HTTP client's User-Agent.
    pub const USER_AGENT: u8 = 55;
    /// Everything else, and a name this list does not hold.
    pub const DEFAULT: u8 = 50;
    /// A guess from the shape of a request (the DHCP parameter request list).
    pub const FINGERPRINT: u8 = 45;
    /// A name in a TLS certificate (the server's, possibly a shared one).
    pub const CERTIFICATE: u8 = 40;
    /// A DNS server's word about another host.
    pub const DNS_ANSWER: u8 = 35;
    /// The name a TLS client asked for.
    pub const SNI: u8 = 30;
    /// A MAC seen forwarding for many addresses.
    pub const FORWARDING: u8 = 20;
    /// The vendor registered for a MAC prefix.
    pub const OUI_GUESS: u8 = 10;
}

/// Declares each source once, and [`ALL`] with every one of them.
macro_rules! sources {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $rank:ident;)*) => {
        $($(#[$doc])* pub const $id: Source = Source { name: $name, rank: rank::$rank };)*
        /// Every source, for looking a stored name up.
        pub static ALL: &[Source] = &[$($id),*];
    };
}

sources! {
    // Modbus (`modbus`).
    MODBUS_DEVICE_IDENTIFICATION = "modbus device identification", CONTROLLER;
    MODBUS_REPORT_SERVER_ID = "modbus report server id", CONTROLLER;
    MODBUS_UMAS_READ_ID = "modbus umas read id", CONTROLLER;
    // S7comm (`s7comm`).
    S7_COTP_TSAP = "s7 cotp tsap", CONTROLLER;
    S7_SZL_0011 = "s7 szl 0x0011", CONTROLLER;
    S7_SZL_001C = "s7 szl 0x001c", CONTROLLER;
    S7_PLUS_SESSION = "s7 plus session", CONTROLLER;
    // MMS / IEC 61850 (`mms`).
    MMS_IDENTIFY = "mms identify", CONTROLLER;
    MMS_DOMAIN_LIST = "mms getnamelist domains", CONTROLLER;
    MMS_OBJECT_NAME = "mms object name", DEFAULT;
    MMS_ACSE = "mms acse ap title", DEFAULT;
    // Beckhoff ADS (`ads`).
    ADS_DEVICE_INFO = "ads read device info", CONTROLLER;
    ADS_DISCOVERY = "ads discovery", DISCOVERY;
    ADS_NET_ID = "ads ams net id", DEFAULT;
    ADS_READ_STATE = "ads read state", CONTROLLER;
    /// The sender of an add-route request: an engineering system (TwinCAT XAE, System
    /// Manager) asking a controller's router to accept it.
    ADS_ADD_ROUTE = "ads add route", DISCOVERY;
    // Mitsubishi SLMP / MC protocol (`slmp`).
    SLMP_CPU_MODEL = "slmp read cpu model", CONTROLLER;
    // EtherNet/IP and CIP (`enip`, `cip`).
    ENIP_LIST_IDENTITY = "enip list identity", CONTROLLER;
    CIP_IDENTITY = "cip identity", CONTROLLER;
    // BACnet (`bacnet`).
    BACNET_I_AM = "bacnet i-am", CONTROLLER;
    BACNET_READPROPERTY_OBJECT_NAME = "bacnet readproperty object-name", CONTROLLER;
    BACNET_READPROPERTY_MODEL_NAME = "bacnet readproperty model-name", CONTROLLER;
    BACNET_READPROPERTY_FIRMWARE_REVISION = "bacnet readproperty firmware-revision", CONTROLLER;
    BACNET_READPROPERTY_APPLICATION_SOFTWARE_VERSION = "bacnet readproperty application-software-version", CONTROLLER;
    BACNET_READPROPERTY_DESCRIPTION = "bacnet readproperty description", CONTROLLER;
    BACNET_READPROPERTY_VENDOR_NAME = "bacnet readproperty vendor-name", CONTROLLER;
    BACNET_READPROPERTY_VENDOR_IDENTIFIER = "bacnet readproperty vendor-identifier", CONTROLLER;
    BACNET_READPROPERTY_OBJECT_IDENTIFIER = "bacnet readproperty object-identifier", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_OBJECT_NAME = "bacnet readpropertymultiple object-name", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_MODEL_NAME = "bacnet readpropertymultiple model-name", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_FIRMWARE_REVISION = "bacnet readpropertymultiple firmware-revision", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_APPLICATION_SOFTWARE_VERSION = "bacnet readpropertymultiple application-software-version", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_DESCRIPTION = "bacnet readpropertymultiple description", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_VENDOR_NAME = "bacnet readpropertymultiple vendor-name", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_VENDOR_IDENTIFIER = "bacnet readpropertymultiple vendor-identifier", CONTROLLER;
    BACNET_READPROPERTYMULTIPLE_OBJECT_IDENTIFIER = "bacnet readpropertymultiple object-identifier", CONTROLLER;
    // PROFINET DCP (`profinet_dcp`).
    PROFINET_DCP_NAME_OF_STATION = "profinet dcp name of station", CONTROLLER;
    PROFINET_DCP_DEVICE_VENDOR_VALUE = "profinet dcp device vendor value", CONTROLLER;
    PROFINET_DCP_DEVICE_ID = "profinet dcp device id", CONTROLLER;
    PROFINET_DCP_DEVICE_ROLE = "profinet dcp device role", CONTROLLER;
    // PROFINET IO (`profinet_io`): what a device or controller says of itself in the CM and
    // on its alarm channel. The device types the roles in an AR imply rank below identity and
    // behaviour, and being the device of an AR below being its controller: an I-device CPU is
    // the device of one AR, the controller of others, and a PLC.
    PROFINET_IO_OBJECT_UUID = "profinet io object uuid", CONTROLLER;
    PROFINET_IO_CM_INITIATOR = "profinet io cm initiator", CONTROLLER;
    PROFINET_IO_IM0 = "profinet io i&m0", CONTROLLER;
    PROFINET_IO_ALARM = "profinet io alarm", CONTROLLER;
    PROFINET_IO_CONTROLLER_ROLE = "profinet io controller role", DEFAULT;
    PROFINET_IO_DEVICE_ROLE = "profinet io device role", FINGERPRINT;
    // GOOSE and Sampled Values (`goose`, `sv`): the names a publisher gives its control blocks
    // and datasets in every frame (the logical device, as MMS names it), and what publishing
    // says it is (an IED; a merging unit for SV), below what it says of itself elsewhere.
    GOOSE_GOCBREF = "goose gocbref", CONTROLLER;
    GOOSE_PUBLISHER = "goose publisher", DEFAULT;
    SV_DATASET = "sv dataset", CONTROLLER;
    SV_PUBLISHER = "sv publisher", DEFAULT;
    // EtherCAT (`ethercat`): the MAC that sends the frames the slaves pass back is the master.
    ETHERCAT_MASTER = "ethercat master", DEFAULT;
    // DNP3 (`dnp3`).
    DNP3_DEVICE_ATTRIBUTES = "dnp3 device attributes", CONTROLLER;
    DNP3_IIN = "dnp3 iin", CONTROLLER;
    DNP3_LINK_ADDRESS = "dnp3 link address", CONTROLLER;
    // OPC UA (`opcua`).
    OPCUA_HELLO = "opcua hello", CONTROLLER;
    OPCUA_REVERSE_HELLO = "opcua reverse hello", CONTROLLER;
    OPCUA_OPEN_SECURE_CHANNEL = "opcua open secure channel", CONTROLLER;
    OPCUA_GET_ENDPOINTS = "opcua get endpoints", CONTROLLER;
    OPCUA_CREATE_SESSION = "opcua create session", CONTROLLER;
    OPCUA_SIGNED_MESSAGE = "opcua signed message", CONTROLLER;
    OPCUA_ENCRYPTED_MESSAGE = "opcua encrypted message", CONTROLLER;
    // HART-IP (`hart_ip`): the device's own answers; a short tag is a weaker name than the
    // long tag.
    HART_COMMAND_0 = "hart command 0", CONTROLLER;
    HART_LONG_TAG = "hart command 20 long tag", CONTROLLER;
    HART_TAG = "hart command 13 tag", DEFAULT;
    // Niagara Fox (`fox`): a station's or Workbench's own hello.
    FOX_HELLO = "fox hello", CONTROLLER;
    // KNXnet/IP (`knxip`): a search or description answer's device information DIB.
    KNXIP_DEVICE_INFO = "knxip device information", CONTROLLER;
    // IEC 60870-5-104 (`iec104`).
    IEC104_ASDU = "iec104 asdu", DEFAULT;
    // CODESYS (`codesys`).
    CODESYS_NAME_SERVICE = "codesys name service identification", CONTROLLER;
    CODESYS_TARGET_IDENT = "codesys target ident", CONTROLLER;
    CODESYS_V2_IDENTITY = "codesys v2 read identity", CONTROLLER;
    // GE-SRTP (`srtp`).
    SRTP_CONTROLLER_ID = "srtp return controller type and id", CONTROLLER;
    SRTP_STATUS = "srtp plc status word", DEFAULT;
    // Omron FINS (`omron_fins`).
    OMRON_FINS_CONTROLLER_DATA = "omron fins controller data read", CONTROLLER;
    OMRON_FINS_NODE = "omron fins node address", DEFAULT;
    OMRON_FINS_END_CODE = "omron fins end code", CONTROLLER;
    // IEEE C37.118 synchrophasors (`c37_118`).
    C37_118_CONFIG = "c37.118 configuration frame", CONTROLLER;
    C37_118_HEADER = "c37.118 header frame", DEFAULT;
    // MQTT (`mqtt`).
    MQTT_CONNECT = "mqtt connect", DEFAULT;
    MQTT_CONNACK = "mqtt connack", DEFAULT;
    MQTT_PUBLISH = "mqtt publish", DEFAULT;
    MQTT_SUBSCRIBE = "mqtt subscribe", DEFAULT;
    MQTT_SYS_BROKER_VERSION = "mqtt $SYS/broker/version", DEFAULT;
    // LLDP (`lldp`).
    LLDP_SYSTEM_NAME = "lldp system name", DISCOVERY;
    LLDP_SYSTEM_DESCRIPTION = "lldp system description", DISCOVERY;
    LLDP_CAPABILITIES = "lldp capabilities", DISCOVERY;
    LLDP_MED_INVENTORY = "lldp-med inventory", DISCOVERY;
    // CDP (`cdp`).
    CDP = "cdp", DISCOVERY;
    CDP_DEVICE_ID = "cdp device id", DISCOVERY;
    CDP_SOFTWARE_VERSION = "cdp software version", DISCOVERY;
    CDP_PLATFORM = "cdp platform", DISCOVERY;
    CDP_CAPABILITIES = "cdp capabilities", DISCOVERY;
    // SNMP (`snmp`).
    SNMP_SYS_DESCR = "snmp sysDescr", DISCOVERY;
    SNMP_SYS_OBJECT_ID = "snmp sysObjectID", DISCOVERY;
    SNMP_SYS_NAME = "snmp sysName", DISCOVERY;
    // SMB and NTLM (`smb`).
    SMB_NATIVE_OS = "smb native os", SMB_OS;
    SMB_NATIVE_LANMAN = "smb native lanman", DEFAULT;
    NTLM_TARGET_INFO = "ntlm target info", NTLM;
    NTLM_VERSION = "ntlm version", NTLM;
    NTLM_WORKSTATION = "ntlm workstation", NTLM;
    NETBIOS_SESSION_REQUEST = "netbios session request", DEFAULT;
    // DHCP (`dhcp`).
    DHCP_OPTION_12 = "dhcp option 12", DHCP_NAME;
    DHCP_OPTION_81 = "dhcp option 81", DHCP_NAME;
    DHCP_VENDOR_CLASS = "dhcp vendor class", NAME_SERVICE;
    DHCP_PARAMETER_LIST = "dhcp parameter list", FINGERPRINT;
    // DNS, mDNS, LLMNR, NBNS (`dns`).
    NBNS = "nbns", NAME_SERVICE;
    MDNS = "mdns", NAME_SERVICE;
    MDNS_TXT = "mdns txt", NAME_SERVICE;
    LLMNR = "llmnr", BANNER;
    DNS_ANSWER = "dns answer", DNS_ANSWER;
    DNS_PTR = "dns ptr", DEFAULT;
    // SSH, Telnet, FTP, RDP, VNC.
    SSH_BANNER = "ssh banner", BANNER;
    TELNET_BANNER = "telnet banner", DEFAULT;
    FTP_BANNER = "ftp banner", DEFAULT;
    FTP_SYST = "ftp syst", DEFAULT;
    RDP_CLIENT_CORE_DATA = "rdp client core data", DEFAULT;
    VNC_PROTOCOL_VERSION = "vnc protocol version", DEFAULT;
    VNC_SECURITY_TYPES = "vnc security types", DEFAULT;
    VNC_DESKTOP_NAME = "vnc desktop name", DEFAULT;
    // HTTP, SSDP, TLS.
    HTTP_USER_AGENT = "http user-agent", USER_AGENT;
    HTTP_SERVER = "http server", DEFAULT;
    SSDP_SERVER = "ssdp server", DEFAULT;
    SSDP_USER_AGENT = "ssdp user-agent", DEFAULT;
    TLS_CERTIFICATE = "tls certificate", CERTIFICATE;
    TLS_SNI = "tls sni", SNI;
    // Derived by the inventory from traffic, not said by a device (in reports the evidence
    // name goes on with details: "oui 00:1b:1b:...", "l2 forwarding: carried 3 source IPs").
    IP_TTL = "ip ttl", DEFAULT;
    L2_FORWARDING = "l2 forwarding", FORWARDING;
    OUI = "oui", OUI_GUESS;
}

/// The source a stored evidence name stands for: exact match over [`ALL`].
pub fn named(name: &str) -> Option<Source> {
    ALL.iter().find(|s| s.name == name).copied()
}

/// The rank of the source a stored evidence name stands for; [`rank::DEFAULT`] for a name
/// this list does not hold (another version's).
pub fn rank_of(name: &str) -> u8 {
    named(name).map_or(rank::DEFAULT, |s| s.rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for s in ALL {
            assert_eq!(named(s.name), Some(*s), "{}", s.name);
            assert_eq!(ALL.iter().filter(|t| t.name == s.name).count(), 1);
        }
        assert_eq!(rank_of("some future source"), rank::DEFAULT);
        assert_eq!(rank_of("oui 00:11:22:33:44:55"), rank::DEFAULT);
    }
}
