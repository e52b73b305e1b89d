// The store key comes from the platform: on iOS a random 32-byte key kept in the Keychain,
// readable only when the device is unlocked and never backed up or synced.
import Foundation

/// Supplies the 32-byte store key.
public protocol KeyProvider: Sendable {
    /// The key. Called on unlock.
    func storeKey() throws -> Data
}

/// Now, in milliseconds since the epoch. Tests pass a clock they move by hand.
public protocol Clock: Sendable {
    /// The current time in ms.
    func nowMs() -> Int64
}

/// The system clock.
public struct SystemClock: Clock {
    /// A system clock.
    public init() {}
    /// The current time in ms.
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

#if canImport(Security)
import Security

/// Keeps the store key in the Keychain (this device only, after first unlock).
public struct KeychainKeyProvider: KeyProvider {
    let service: String
    let account: String

    /// A provider for the key named `account` under `service`.
    public init(service: String = "org.fieldnote.store", account: String = "store-key") {
        self.service = service
        self.account = account
    }

    /// The key, created on first use.
    public func storeKey() throws -> Data {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
        ]
        var item: CFTypeRef?
        if SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess, let data = item as? Data {
            return data
        }
        var key = Data(count: 32)
        let status = key.withUnsafeMutableBytes { SecRandomCopyBytes(kSecRandomDefault, 32, $0.baseAddress!) }
        guard status == errSecSuccess else { throw KeychainError.status(status) }
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: key,
        ]
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw KeychainError.status(added) }
        return key
    }
}

/// A Keychain failure.
public enum KeychainError: Error {
    /// The Security framework's status code.
    case status(OSStatus)
}
#endif
