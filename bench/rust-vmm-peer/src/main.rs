// hvkit's rust-vmm peer: the shapes of bench/hot_paths (hot_paths_bench --peer-format) run on
// rust-vmm's crates, with the same names, guest-memory layouts, operations per iteration and harness,
// so that bench/compare_rust_vmm.sh can put each of hvkit's lines beside this program's line.
//   hvkit-rust-vmm-peer [--samples N] [--sample-ms M] [--filter TEXT]
// Output: a "#" header line, then one tab-separated line per shape:
//   name, median ns/iteration, min ns/iteration, operations/iteration, unit, iterations/sample, samples
//
// Where hvkit has a thread-safe adaptor ("X/locked"), this side wraps the rust-vmm device in a
// std::sync::Mutex ("X/rust_mutex"): rust-vmm leaves locking to the VMM. Rows named "X/rust_<other>"
// are the same work as hvkit's "X" done through another rust-vmm API (shown beside it, not instead).
//
// Written for Rust 1.63 (Debian 12) as well as newer toolchains: no std::hint::black_box (1.66).

use std::arch::asm;
use std::io::{self, Write};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryMmap};
use vm_superio::{Serial, Trigger};

type Memory = GuestMemoryMmap<()>;

// ---------------------------------------------------------------------------------------------
// Harness: the method of hvkit's run_peer_format (bench/hot_paths/shape_registry.hpp).

struct Config {
    samples: usize,
    sample_ns: u64,
    filter: String,
}

/// The value's address is an input to an empty asm statement that may read and write memory, as
/// benchmark::DoNotOptimize is on hvkit's side (and std::hint::black_box on newer Rust).
#[inline(always)]
fn black_box<T>(value: T) -> T {
    // SAFETY: the asm body is empty; it only makes the compiler assume `value` is read and memory
    // written.
    unsafe { asm!("/* {0} */", in(reg) &value as *const T, options(nostack, preserves_flags)) };
    value
}

fn elapsed_ns(since: Instant) -> u64 {
    since.elapsed().as_nanos() as u64
}

/// Runs the shape `name` if the filter selects it: `make` builds its state and returns the body of
/// one iteration, which performs `ops` operations of `unit`.
fn shape<B: FnMut(), F: FnOnce() -> B>(config: &Config, name: &str, ops: u64, unit: &str, make: F) {
    if !name.contains(config.filter.as_str()) {
        return;
    }
    let mut body = make();
    let mut iterations: u64 = 1;
    let per_iteration_ns;
    loop {
        // warm up and calibrate: at least 20 ms, doubling the batch
        let start = Instant::now();
        for _ in 0..iterations {
            body();
        }
        let took = elapsed_ns(start);
        if took >= 20_000_000 {
            per_iteration_ns = took as f64 / iterations as f64;
            break;
        }
        iterations *= 2;
    }
    let per_sample = ((config.sample_ns as f64 / per_iteration_ns).ceil() as u64).max(1);
    let mut samples = Vec::with_capacity(config.samples);
    for _ in 0..config.samples {
        let start = Instant::now();
        for _ in 0..per_sample {
            body();
        }
        samples.push(elapsed_ns(start) as f64 / per_sample as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).expect("a sample is not a number"));
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    println!(
        "{}\t{:.2}\t{:.2}\t{}\t{}\t{}\t{}",
        name, median, samples[0], ops, unit, per_sample, config.samples
    );
    io::stdout().flush().expect("stdout");
}

// ---------------------------------------------------------------------------------------------
// Guest-memory layouts (bench/hot_paths/guest_layout.hpp): one 4 MiB region at 0; the indirect
// shapes add a 1 MiB region at 0x3000_0000, where the mock driver writes indirect tables. Every page
// is touched before timing.

const MAIN_REGION_SIZE: usize = 4 << 20;
const INDIRECT_BASE: u64 = 0x3000_0000;
const INDIRECT_REGION_SIZE: usize = 1 << 20;

fn make_memory(with_indirect_region: bool) -> Memory {
    let mut ranges = vec![(GuestAddress(0), MAIN_REGION_SIZE)];
    if with_indirect_region {
        ranges.push((GuestAddress(INDIRECT_BASE), INDIRECT_REGION_SIZE));
    }
    let memory = Memory::from_ranges(&ranges).expect("guest memory");
    for &(base, size) in &ranges {
        for offset in (0..size as u64).step_by(4096) {
            memory
                .write_obj(0u8, base.unchecked_add(offset))
                .expect("touch a page");
        }
    }
    memory
}

// ---------------------------------------------------------------------------------------------
// Guest memory (bench/hot_paths/memory_shapes.cpp): 8-byte objects and 4 KiB blocks at the same
// splitmix64 sequence of 8-byte-aligned addresses (seeds 42 and 43).

const U64_ADDRESSES: usize = 4096;
const PAGE_ADDRESSES: usize = 256;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 8-byte-aligned addresses a with [a, a + length) inside the main region.
fn addresses(count: usize, length: usize, mut seed: u64) -> Vec<GuestAddress> {
    let slots = ((MAIN_REGION_SIZE - length) / 8 + 1) as u64;
    (0..count)
        .map(|_| GuestAddress((splitmix64(&mut seed) % slots) * 8))
        .collect()
}

fn memory_shapes(config: &Config) {
    shape(
        config,
        "mem/read_obj_u64",
        U64_ADDRESSES as u64,
        "op",
        || {
            let (memory, at) = (make_memory(false), addresses(U64_ADDRESSES, 8, 42));
            move || {
                let memory = black_box(&memory);
                let mut sum = 0u64;
                for &a in &at {
                    sum = sum.wrapping_add(memory.read_obj::<u64>(a).expect("read_obj"));
                }
                black_box(sum);
            }
        },
    );
    shape(
        config,
        "mem/write_obj_u64",
        U64_ADDRESSES as u64,
        "op",
        || {
            let (memory, at) = (make_memory(false), addresses(U64_ADDRESSES, 8, 42));
            move || {
                let memory = black_box(&memory);
                for (i, &a) in at.iter().enumerate() {
                    memory.write_obj(i as u64, a).expect("write_obj");
                }
            }
        },
    );
    shape(config, "mem/read_4k", PAGE_ADDRESSES as u64, "op", || {
        let (memory, at, mut buffer) = (
            make_memory(false),
            addresses(PAGE_ADDRESSES, 4096, 43),
            vec![0x5au8; 4096],
        );
        move || {
            let memory = black_box(&memory);
            for &a in &at {
                memory.read_slice(&mut buffer, a).expect("read_slice");
                black_box(buffer.as_mut_ptr());
            }
        }
    });
    shape(config, "mem/write_4k", PAGE_ADDRESSES as u64, "op", || {
        let (memory, at, buffer) = (
            make_memory(false),
            addresses(PAGE_ADDRESSES, 4096, 43),
            vec![0x5au8; 4096],
        );
        move || {
            let memory = black_box(&memory);
            for &a in &at {
                black_box(buffer.as_ptr());
                memory.write_slice(&buffer, a).expect("write_slice");
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Split virtqueue, device side, queue size 256 (bench/hot_paths/virtqueue_shapes.cpp), laid out by
// virtio-queue's own mock driver: MockSplitQueue::new(memory, 256), add_chain / add_indirect_chain.

const QUEUE_SIZE: u16 = 256;

/// What a device does at DRIVER_OK, as hvkit's SplitQueue::create: build the queue from the
/// configuration (the setters check size and alignment) and check it against guest memory.
fn create_queue(mock: &MockSplitQueue<Memory>, memory: &Memory) -> Queue {
    let queue: Queue = mock.create_queue().expect("create_queue");
    assert!(queue.is_valid(memory), "the queue is not valid");
    queue
}

/// Sums every buffer's address and length, as hvkit's walk does.
fn visit<I: Iterator<Item = virtio_queue::Descriptor>>(chain: I) -> usize {
    let (mut buffers, mut sum) = (0usize, 0u64);
    for descriptor in chain {
        buffers += 1;
        sum = sum.wrapping_add(descriptor.addr().raw_value() + u64::from(descriptor.len()));
    }
    black_box(sum);
    buffers
}

/// Guest memory that lives as long as the process, so that a shape's body can own the mock driver,
/// which borrows it.
fn leaked_memory(with_indirect_region: bool) -> &'static Memory {
    Box::leak(Box::new(make_memory(with_indirect_region)))
}

#[derive(Clone, Copy)]
enum Walk {
    /// rust-vmm's own benchmark idiom: one AvailIter over everything available, the available
    /// index read once, as hvkit's pop_into() reads it once per batch
    AvailIter,
    /// pop_descriptor_chain(): one chain per call, the available index read each time
    Pop,
}

fn walk_shape(config: &Config, name: &str, chains: usize, length: u16, indirect: bool, walk: Walk) {
    let name = match walk {
        Walk::AvailIter => name.to_string(),
        Walk::Pop => format!("{}/rust_pop_descriptor_chain", name),
    };
    shape(config, &name, 128, "desc", || {
        let memory = leaked_memory(indirect);
        let mut mock = MockSplitQueue::new(memory, QUEUE_SIZE);
        for _ in 0..chains {
            if indirect {
                mock.add_indirect_chain(length).expect("add_indirect_chain");
            } else {
                mock.add_chain(length).expect("add_chain");
            }
        }
        move || {
            let (mock, memory) = (black_box(&mock), black_box(memory));
            let mut queue = create_queue(mock, memory);
            let (mut seen_chains, mut seen_buffers) = (0usize, 0usize);
            match walk {
                Walk::Pop => {
                    while let Some(chain) = queue.pop_descriptor_chain(memory) {
                        seen_chains += 1;
                        seen_buffers += visit(chain);
                    }
                }
                Walk::AvailIter => {
                    for chain in queue.iter(memory).expect("iter") {
                        seen_chains += 1;
                        seen_buffers += visit(chain);
                    }
                }
            }
            assert!(
                seen_chains == chains && seen_buffers == chains * length as usize,
                "wrong walk"
            );
        }
    });
}

fn virtqueue_shapes(config: &Config) {
    let walks: [(&str, usize, u16, bool); 4] = [
        ("vq/split/one_chain_128_desc", 1, 128, false),
        ("vq/split/128_one_desc_chains", 128, 1, false),
        ("vq/split_indirect/one_chain_128_desc", 1, 128, true),
        ("vq/split_indirect/128_one_desc_chains", 128, 1, true),
    ];
    for &(name, chains, length, indirect) in &walks {
        walk_shape(config, name, chains, length, indirect, Walk::AvailIter);
        if chains > 1 {
            walk_shape(config, name, chains, length, indirect, Walk::Pop);
        }
    }
    shape(config, "vq/split/128_add_used", 128, "elem", || {
        let memory = leaked_memory(false);
        let mock = MockSplitQueue::new(memory, QUEUE_SIZE);
        move || {
            let (mock, memory) = (black_box(&mock), black_box(memory));
            let mut queue = create_queue(mock, memory);
            for _ in 0..128 {
                // The head and length through black_box, as a device's come from the chain: with
                // the constants, rustc built slower code for add_used (1.26 against 1.03 us per
                // iteration on the development host), which would flatter hvkit.
                queue
                    .add_used(memory, black_box(123), black_box(0x1000))
                    .expect("add_used");
            }
            black_box(&queue);
        }
    });
    shape(config, "vq/create_queue_only", 1, "queue", || {
        let memory = leaked_memory(false);
        let mock = MockSplitQueue::new(memory, QUEUE_SIZE);
        move || {
            let queue = create_queue(black_box(&mock), black_box(memory));
            black_box(&queue);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 16550 UART (vm-superio Serial): default register state, an interrupt line that does nothing, a
// discard sink or an in-memory one. Every register access goes through black_box(&mut serial): each
// stands for one guest exit, after which nothing about the device is known. The "/rust_mutex" rows
// lock once per register access, as a VMM that shares the device between vCPU threads does.

struct NoInterrupt;
impl Trigger for NoInterrupt {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

const THR: u8 = 0; // also RBR when read
const LSR: u8 = 5;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;
const TX_BYTES: usize = 4096;
const RX_BYTES: usize = 64; // one FIFO's worth

/// 4096 printable bytes: ' ' + i % 95.
fn payload() -> Vec<u8> {
    (0..TX_BYTES).map(|i| b' ' + (i % 95) as u8).collect()
}

/// An in-memory sink of at most 4096 bytes, emptied (capacity kept) when full, so that every
/// iteration does the same work.
struct VecSink(Vec<u8>);
impl VecSink {
    fn new() -> Self {
        VecSink(Vec::with_capacity(TX_BYTES))
    }
}
impl Write for VecSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.0.len() + data.len() > TX_BYTES {
            black_box(self.0.as_ptr());
            self.0.clear();
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Uart<W> = Serial<NoInterrupt, vm_superio::serial::NoEvents, W>;

/// The guest-side loops, once over a plain Serial and once over a Mutex<Serial>: `access` runs one
/// register access on the device.
trait Device<W: Write> {
    fn access<R, F: FnOnce(&mut Uart<W>) -> R>(&mut self, f: F) -> R;
}
struct Plain<W: Write>(Uart<W>);
impl<W: Write> Device<W> for Plain<W> {
    #[inline(always)]
    fn access<R, F: FnOnce(&mut Uart<W>) -> R>(&mut self, f: F) -> R {
        f(black_box(&mut self.0))
    }
}
struct Locked<W: Write>(Mutex<Uart<W>>);
impl<W: Write> Device<W> for Locked<W> {
    #[inline(always)]
    fn access<R, F: FnOnce(&mut Uart<W>) -> R>(&mut self, f: F) -> R {
        let mut guard = black_box(&self.0).lock().expect("uart lock");
        f(&mut guard)
    }
}

fn tx_thr<W: Write, D: Device<W>>(device: &mut D, bytes: &[u8]) {
    for &b in bytes {
        device
            .access(|s| s.write(THR, black_box(b)))
            .expect("THR write");
    }
}

/// A polling console per byte (Linux serial8250_console_putchar): LSR until THRE, then THR.
fn tx_lsr_thr<W: Write, D: Device<W>>(device: &mut D, bytes: &[u8]) {
    for &b in bytes {
        while device.access(|s| s.read(LSR)) & LSR_THR_EMPTY == 0 {}
        device
            .access(|s| s.write(THR, black_box(b)))
            .expect("THR write");
    }
}

/// The VMM queues one FIFO's worth of input; the guest reads RBR 64 times.
fn rx_rbr<W: Write, D: Device<W>>(device: &mut D, input: &[u8]) {
    let queued = device
        .access(|s| s.enqueue_raw_bytes(black_box(input)))
        .expect("enqueue");
    assert!(queued == RX_BYTES, "the FIFO took {} bytes", queued);
    let mut sum = 0u32;
    for _ in 0..RX_BYTES {
        sum += u32::from(device.access(|s| s.read(THR)));
    }
    black_box(sum);
}

/// A guest's receive loop (Linux serial8250_rx_chars): while LSR has DR, read RBR (65 LSR reads and
/// 64 RBR reads per 64 bytes).
fn rx_lsr_rbr<W: Write, D: Device<W>>(device: &mut D, input: &[u8]) {
    let queued = device
        .access(|s| s.enqueue_raw_bytes(black_box(input)))
        .expect("enqueue");
    assert!(queued == RX_BYTES, "the FIFO took {} bytes", queued);
    let (mut sum, mut count) = (0u32, 0usize);
    while device.access(|s| s.read(LSR)) & LSR_DATA_READY != 0 {
        sum += u32::from(device.access(|s| s.read(THR)));
        count += 1;
    }
    assert!(count == RX_BYTES, "read {} bytes", count);
    black_box(sum);
}

/// Registers `name` over a plain Serial and `name/rust_mutex` over a Mutex<Serial>.
fn uart_pair<W, P, L>(
    config: &Config,
    name: &str,
    ops: usize,
    sink: fn() -> W,
    run: P,
    run_locked: L,
) where
    W: Write,
    P: Fn(&mut Plain<W>, &[u8]),
    L: Fn(&mut Locked<W>, &[u8]),
{
    let input = payload();
    let input = &input[..ops];
    shape(config, name, ops as u64, "byte", || {
        let mut device = Plain(Serial::new(NoInterrupt, sink()));
        move || run(&mut device, input)
    });
    shape(
        config,
        &format!("{}/rust_mutex", name),
        ops as u64,
        "byte",
        || {
            let mut device = Locked(Mutex::new(Serial::new(NoInterrupt, sink())));
            move || run_locked(&mut device, input)
        },
    );
}

fn uart_shapes(config: &Config) {
    uart_pair(
        config,
        "uart/tx_thr/null_sink",
        TX_BYTES,
        io::sink,
        tx_thr,
        tx_thr,
    );
    uart_pair(
        config,
        "uart/tx_thr/vec_sink",
        TX_BYTES,
        VecSink::new,
        tx_thr,
        tx_thr,
    );
    uart_pair(
        config,
        "uart/tx_lsr_thr/vec_sink",
        TX_BYTES,
        VecSink::new,
        tx_lsr_thr,
        tx_lsr_thr,
    );
    uart_pair(config, "uart/rx_rbr", RX_BYTES, io::sink, rx_rbr, rx_rbr);
    uart_pair(
        config,
        "uart/rx_lsr_rbr",
        RX_BYTES,
        io::sink,
        rx_lsr_rbr,
        rx_lsr_rbr,
    );
}

// ---------------------------------------------------------------------------------------------

fn usage() -> ! {
    eprintln!("usage: hvkit-rust-vmm-peer [--samples N] [--sample-ms M] [--filter TEXT]");
    std::process::exit(2);
}

fn parse_args() -> Config {
    let mut config = Config {
        samples: 15,
        sample_ns: 10_000_000,
        filter: String::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = match args.get(i + 1) {
            Some(value) => value,
            None => usage(),
        };
        match args[i].as_str() {
            "--samples" => config.samples = value.parse().unwrap_or_else(|_| usage()),
            "--sample-ms" => {
                let ms: u64 = value.parse().unwrap_or_else(|_| usage());
                config.sample_ns = ms * 1_000_000;
            }
            "--filter" => config.filter = value.clone(),
            _ => usage(),
        }
        i += 2;
    }
    if config.samples < 1 || config.sample_ns == 0 {
        usage();
    }
    config
}

fn main() {
    let config = parse_args();
    // An idle second thread for the whole run, as in hot_paths_bench: glibc drops the lock prefix of
    // its atomics in a single-threaded process, which would flatter whichever side had one thread.
    let (stop, stopped) = mpsc::channel::<()>();
    let idle = std::thread::spawn(move || {
        let _ = stopped.recv();
    });
    println!("# rust-vmm peer: virtio-queue, vm-memory, vm-superio (bench/rust-vmm-peer)");
    memory_shapes(&config);
    virtqueue_shapes(&config);
    uart_shapes(&config);
    drop(stop);
    idle.join().expect("idle thread");
}
