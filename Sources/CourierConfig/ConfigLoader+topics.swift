import CourierCore

extension ConfigLoader {
    /// The `topics:` section: templates by key, each a string; a key left out keeps its default.
    /// A template that breaks a rule of the layout is an error at that key's line.
    static func topics(_ node: ConfigNode) throws -> Topics {
        let keys = try node.mapping(keys: Topics.keys)
        var templates: [String: String] = [:]
        for (key, value) in keys where !value.isNull { templates[key] = try value.string() }
        do {
            return try Topics(templates: templates)
        } catch {
            if let value = keys[error.key] { throw value.error(error.message) }
            // A default template that clashes with one the file sets.
            throw ConfigError(file: node.file, line: node.line, key: "topics.\(error.key)", message: error.message)
        }
    }
}
