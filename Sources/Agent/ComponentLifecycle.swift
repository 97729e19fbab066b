import Platform

/// A part of the agent that runs between a start and a stop (the archive, the event recorder, the
/// uplink, the buses, the control socket …). The shape follows swift-service-lifecycle, on the
/// agent's dedicated threads: `stop` must return by the deadline (finishing what it can) and may be
/// called once only, after `start` succeeded.
protocol AgentComponent: AnyObject, Sendable {
    /// For logs and errors ("uplink", "buses").
    var componentName: String { get }
    func start() throws
    func stop(by deadline: ContinuousClock.Instant)
}

/// An `AgentComponent` made of two closures: how most parts of the agent are wrapped.
final class AgentPart: AgentComponent, @unchecked Sendable {
    let componentName: String
    private let starting: () throws -> Void
    private let stopping: (ContinuousClock.Instant) -> Void

    init(_ name: String, start: @escaping () throws -> Void = {}, stop: @escaping (ContinuousClock.Instant) -> Void) {
        componentName = name
        starting = start
        stopping = stop
    }

    func start() throws { try starting() }
    func stop(by deadline: ContinuousClock.Instant) { stopping(deadline) }
}

/// Why a component did not start.
struct ComponentStartFailure: Error, CustomStringConvertible {
    var component: String
    var underlying: any Error
    var description: String { "\(component): \(underlying)" }
}

/// The agent's started components, in start order. A failed start unwinds what already started
/// (in reverse, under one deadline) before the error goes up; `stopAll` stops in reverse under one
/// deadline; `replace` swaps one component by identity (reload, `keys.rotate`), so nothing keeps a
/// reference to a stopped one.
final class ComponentLifecycle: Sendable {
    private let started = Locked<[any AgentComponent]>([])
    /// Test hook: the component with this name fails to start.
    let failing: String?

    init(failing: String? = nil) { self.failing = failing }

    /// The names of the running components, in start order.
    var names: [String] { started.value.map(\.componentName) }

    /// Starts `component` after those already running. If it fails, everything started so far is
    /// stopped (within `unwindBudget`) and the failure is thrown.
    func start(_ component: any AgentComponent, unwindBudget: Duration) throws(ComponentStartFailure) {
        do {
            if component.componentName == failing { throw InjectedFailure() }
            try component.start()
        } catch {
            stopAll(within: unwindBudget)
            throw ComponentStartFailure(component: component.componentName, underlying: error)
        }
        started.withLock { $0.append(component) }
    }

    /// Stops every running component, newest first, all against one deadline.
    func stopAll(within budget: Duration) {
        let deadline = ContinuousClock.now + budget
        let running = started.withLock { list -> [any AgentComponent] in
            defer { list.removeAll() }
            return list
        }
        for component in running.reversed() { component.stop(by: deadline) }
    }

    /// Stops `old` and starts `new` in its place (the same position in the order). If `old` is not
    /// running, `new` is started last. If `new` fails to start, it is not kept and the error is thrown;
    /// the others keep running.
    func replace(_ old: (any AgentComponent)?, with new: any AgentComponent, within budget: Duration) throws {
        let index = started.withLock { list -> Int? in
            guard let old, let i = list.firstIndex(where: { $0 === old }) else { return nil }
            list.remove(at: i)
            return i
        }
        if let old, index != nil { old.stop(by: .now + budget) }
        try new.start()
        started.withLock { list in list.insert(new, at: min(index ?? list.count, list.count)) }
    }

    /// The running component named `name`, if any.
    func component(named name: String) -> (any AgentComponent)? {
        started.value.first { $0.componentName == name }
    }

    private struct InjectedFailure: Error, CustomStringConvertible {
        var description: String { "start failure injected by a test" }
    }
}
