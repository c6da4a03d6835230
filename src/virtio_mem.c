// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mem transport: one hotdimm device per virtio-mem device.
 *
 * The host (QEMU: -device virtio-mem-pci) exposes a physical region and a
 * requested size; the guest plugs and unplugs device blocks with requests on
 * a single virtqueue. This file speaks that protocol and nothing else: the
 * core decides which Linux memory block to add or remove and calls
 * vmem_plug() before adding a block and vmem_unplug() after removing it, so
 * memory is never touched while it is unplugged. The transport reports the
 * host's requested size to the core with hotdimm_set_requested().
 *
 * Requests: PLUG/UNPLUG for a run of device blocks at a time (a whole
 * memory block, or sub-blocks of one), UNPLUG_ALL to reset a device that
 * was left with plugged memory (reload, kexec), STATE to double-check a
 * range after a device error, a short UNPLUG response and UNPLUG_ALL.
 *
 * Responses are mapped to errnos for hotdimm_classify_error(), the single
 * place where errors are classified:
 *   ACK   -> 0
 *   NACK  -> -EAGAIN (the host lowered the requested size meanwhile: the
 *            config is re-read and the core is told the new size first)
 *   BUSY  -> -EBUSY  (the core retries with bounded exponential backoff)
 *   ERROR -> -EIO    (the core gives up on the device until the next resize)
 *
 * Locking: req_lock serialises requests, so exactly one is in flight; the
 * virtqueue callback only completes @done, the waiter fetches the buffer.
 * cfg_lock protects the config values read last and @hd. The config-change
 * callback runs in atomic context and only queues cfg_work; the virtio core
 * delivers it only between a successful probe and the start of remove, so
 * remove() cancels cfg_work once and nothing queues it again.
 */
#include <linux/completion.h>
#include <linux/crash_dump.h>
#include <linux/ioport.h>
#include <linux/log2.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/numa.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mem.h>
#include <linux/workqueue.h>

#include <acpi/acpi_numa.h>

#include "hotdimm.h"
#include "hotdimm_vmem.h"

/* A request without a response for this long is reported (and waited on). */
#define VMEM_REQ_WARN_MS	10000
/* Adoption retries (UNPLUG_ALL, registration): first delay and bound. */
#define VMEM_ADOPT_MIN_MS	10
#define VMEM_ADOPT_MAX_MS	10000

struct vmem {
	struct virtio_device *vdev;
	struct virtqueue *vq;
	struct platform_device *pdev;

	/* Fixed at probe. */
	u64 addr;		/* region start */
	u64 region_size;	/* as the device reports it */
	u64 size;		/* region_size rounded down to memory blocks */
	u64 dev_block_size;	/* device block size */
	u64 mb_size;		/* Linux memory block size */
	int nid;

	/* One request in flight. */
	struct mutex req_lock;
	struct completion done;
	struct virtio_mem_req req;	/* DMA: never on the stack */
	struct virtio_mem_resp resp;

	/* Config as read last; @hd once the platform device is bound. */
	struct mutex cfg_lock;
	u64 usable;
	u64 requested;
	struct hotdimm_dev *hd;

	struct work_struct cfg_work;
	struct delayed_work adopt_work;
	unsigned int adopt_delay_ms;
	bool adopted;			/* UNPLUG_ALL done, registration left */

#ifdef CONFIG_PROC_VMCORE
	/* kdump kernel: answers for /proc/vmcore, no hotdimm device. */
	bool kdump;
	struct vmcore_cb vmcore_cb;
	struct mutex vmcore_lock;	/* the cached answer below */
	u64 vmcore_blk;			/* device block asked last, or U64_MAX */
	bool vmcore_ram;
#endif
};

static const char *vmem_req_name(u16 type)
{
	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		return "PLUG";
	case VIRTIO_MEM_REQ_UNPLUG:
		return "UNPLUG";
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		return "UNPLUG_ALL";
	case VIRTIO_MEM_REQ_STATE:
		return "STATE";
	}
	return "?";
}

static const char *vmem_resp_name(int resp)
{
	switch (resp) {
	case VIRTIO_MEM_RESP_ACK:
		return "ACK";
	case VIRTIO_MEM_RESP_NACK:
		return "NACK";
	case VIRTIO_MEM_RESP_BUSY:
		return "BUSY";
	case VIRTIO_MEM_RESP_ERROR:
		return "ERROR";
	}
	return "?";
}

static const char *vmem_state_name(int state)
{
	switch (state) {
	case VIRTIO_MEM_STATE_PLUGGED:
		return "plugged";
	case VIRTIO_MEM_STATE_UNPLUGGED:
		return "unplugged";
	case VIRTIO_MEM_STATE_MIXED:
		return "mixed";
	}
	return "unknown";
}

static void vmem_vq_done(struct virtqueue *vq)
{
	struct vmem *vm = vq->vdev->priv;

	complete(&vm->done);
}

/*
 * Send one request and wait for the response. Returns the response type
 * (VIRTIO_MEM_RESP_*) and, for STATE, the state in @state; or a negative
 * errno when the request could not be queued, -EPROTO when the response
 * is short (the device may have acted on it).
 */
static int vmem_send(struct vmem *vm, u16 type, u64 addr, u64 nb_blocks,
		     u16 *state)
{
	struct virtio_device *vdev = vm->vdev;
	struct scatterlist sg_req, sg_resp, *sgs[2];
	unsigned long waited = 0;
	unsigned int len = 0;
	int ret;

	mutex_lock(&vm->req_lock);
	memset(&vm->req, 0, sizeof(vm->req));
	memset(&vm->resp, 0, sizeof(vm->resp));
	/* Not a valid state: 0 would read as PLUGGED. */
	vm->resp.u.state.state = cpu_to_virtio16(vdev, U16_MAX);
	vm->req.type = cpu_to_virtio16(vdev, type);
	/* The plug, unplug and state variants share one layout. */
	vm->req.u.plug.addr = cpu_to_virtio64(vdev, addr);
	vm->req.u.plug.nb_blocks = cpu_to_virtio16(vdev, nb_blocks);

	sg_init_one(&sg_req, &vm->req, sizeof(vm->req));
	sg_init_one(&sg_resp, &vm->resp, sizeof(vm->resp));
	sgs[0] = &sg_req;
	sgs[1] = &sg_resp;

	reinit_completion(&vm->done);
	ret = virtqueue_add_sgs(vm->vq, sgs, 1, 1, vm, GFP_KERNEL);
	if (ret) {
		dev_warn(&vdev->dev, "%s: cannot queue request: %d\n",
			 vmem_req_name(type), ret);
		goto out;
	}
	virtqueue_kick(vm->vq);

	/*
	 * The callback may fire spuriously: only a buffer returned by the
	 * device ends the wait. A device that never answers keeps us here;
	 * say so instead of hanging silently (and without a hung task).
	 */
	for (;;) {
		if (!wait_for_completion_timeout(&vm->done,
						 msecs_to_jiffies(VMEM_REQ_WARN_MS))) {
			waited += VMEM_REQ_WARN_MS / 1000;
			dev_warn(&vdev->dev,
				 "%s 0x%llx+%llu blocks: no response for %lu s\n",
				 vmem_req_name(type), addr, nb_blocks, waited);
			continue;
		}
		if (virtqueue_get_buf(vm->vq, &len))
			break;
	}

	if (len < hotdimm_vmem_resp_len(type == VIRTIO_MEM_REQ_STATE)) {
		dev_err(&vdev->dev, "%s: short response (%u bytes), treating it as a device error\n",
			vmem_req_name(type), len);
		ret = -EPROTO;
		goto out;
	}
	ret = virtio16_to_cpu(vdev, vm->resp.type);
	if (state)
		*state = virtio16_to_cpu(vdev, vm->resp.u.state.state);
out:
	mutex_unlock(&vm->req_lock);
	return ret;
}

/* STATE of [@addr, @addr + @size): VIRTIO_MEM_STATE_* or a negative errno. */
static int vmem_state(struct vmem *vm, u64 addr, u64 size)
{
	u64 nb = size / vm->dev_block_size;
	int merged = -1;

	while (nb) {
		u64 n = min_t(u64, nb, U16_MAX);
		u16 state = 0;
		int ret;

		ret = vmem_send(vm, VIRTIO_MEM_REQ_STATE, addr, n, &state);
		if (ret < 0)
			return ret;
		if (ret != VIRTIO_MEM_RESP_ACK)
			return -EIO;
		if (state > VIRTIO_MEM_STATE_MIXED)
			return -EIO;
		if (merged < 0)
			merged = state;
		else if (merged != state)
			merged = VIRTIO_MEM_STATE_MIXED;
		addr += n * vm->dev_block_size;
		nb -= n;
	}
	return merged < 0 ? VIRTIO_MEM_STATE_UNPLUGGED : merged;
}

static u32 vmem_cfg_generation(void *ctx)
{
	struct virtio_device *vdev = ctx;

	return vdev->config->generation ? vdev->config->generation(vdev) : 0;
}

static void vmem_cfg_read(void *ctx, struct hotdimm_vmem_cfg *cfg)
{
	struct virtio_device *vdev = ctx;

	virtio_cread_le(vdev, struct virtio_mem_config, usable_region_size,
			&cfg->usable);
	virtio_cread_le(vdev, struct virtio_mem_config, requested_size,
			&cfg->requested);
}

static const struct hotdimm_vmem_cfg_ops vmem_cfg_ops = {
	.generation = vmem_cfg_generation,
	.read = vmem_cfg_read,
};

/*
 * Read the config fields that may change, as one snapshot (a host update
 * between two fields must not look like a config that makes no sense), and
 * check them. Caller holds cfg_lock. On a config that makes no sense, the
 * old values stay and the field is named in the error.
 */
static int vmem_read_config(struct vmem *vm)
{
	struct device *dev = &vm->vdev->dev;
	struct hotdimm_vmem_cfg cfg;
	const char *bad;

	if (hotdimm_vmem_read_cfg(&vmem_cfg_ops, vm->vdev, &cfg)) {
		dev_dbg(dev, "config keeps changing, waiting for the next update\n");
		return -EAGAIN;
	}
	bad = hotdimm_vmem_check_cfg(vm->region_size, &cfg);
	if (bad) {
		dev_err(dev, "%s (usable_region_size 0x%llx, requested_size 0x%llx, region_size 0x%llx): ignoring the config update\n",
			bad, cfg.usable, cfg.requested, vm->region_size);
		return -EINVAL;
	}
	vm->usable = cfg.usable;
	vm->requested = cfg.requested;
	return 0;
}

/*
 * Re-read the config and pass the requested size on to the core, which
 * follows it to the sub-block (a multiple of the device block); a config
 * update we refuse is noted in status.
 */
static void vmem_refresh(struct vmem *vm)
{
	int ret;

	mutex_lock(&vm->cfg_lock);
	ret = vmem_read_config(vm);
	if (vm->hd && !ret) {
		dev_dbg(&vm->vdev->dev, "requested_size %llu, usable_region_size %llu\n",
			vm->requested, vm->usable);
		hotdimm_set_requested(vm->hd, vm->requested);
	} else if (vm->hd && ret == -EINVAL) {
		hotdimm_set_status(vm->hd, "host config update refused (see dmesg), keeping %llu",
				   vm->requested);
	}
	mutex_unlock(&vm->cfg_lock);
}

static void vmem_cfg_work(struct work_struct *work)
{
	vmem_refresh(container_of(work, struct vmem, cfg_work));
}

static void vmem_config_changed(struct virtio_device *vdev)
{
	struct vmem *vm = vdev->priv;

	/* Atomic context (under the virtio config lock): defer the work. */
	queue_work(system_freezable_wq, &vm->cfg_work);
}

/* After a device ERROR: log what the device thinks of the range. */
static int vmem_explain_error(struct vmem *vm, u16 type, u64 addr, u64 size)
{
	int state = vmem_state(vm, addr, size);

	dev_err(&vm->vdev->dev, "%s 0x%llx-0x%llx: device error (range is %s)\n",
		vmem_req_name(type), addr, addr + size - 1,
		state < 0 ? "of unknown state" : vmem_state_name(state));
	return state;
}

/*
 * An UNPLUG of [@addr, @addr + @size) got a short response: the device may
 * have acted on it. Ask it (STATE) before anyone gives the pages back to
 * Linux: 0 when all of it is unplugged now, -EIO when none of it is.
 * Partly unplugged, or of unknown state: the device blocks still plugged
 * are unplugged one by one, and the range counts as unplugged either way
 * (memory the host may have taken is never used again).
 */
static int vmem_unplug_settle(struct vmem *vm, u64 addr, u64 size)
{
	struct device *dev = &vm->vdev->dev;
	int state = vmem_state(vm, addr, size);
	u64 off;

	switch (hotdimm_vmem_unplug_verdict(state)) {
	case HOTDIMM_VMEM_UNPLUG_DONE:
		return 0;
	case HOTDIMM_VMEM_UNPLUG_NOT_DONE:
		return -EIO;
	case HOTDIMM_VMEM_UNPLUG_RETRY:
		break;
	}
	for (off = 0; off < size; off += vm->dev_block_size) {
		state = vmem_state(vm, addr + off, vm->dev_block_size);
		if (state == VIRTIO_MEM_STATE_PLUGGED &&
		    vmem_send(vm, VIRTIO_MEM_REQ_UNPLUG, addr + off, 1, NULL) ==
		    VIRTIO_MEM_RESP_ACK)
			state = VIRTIO_MEM_STATE_UNPLUGGED;
		if (state != VIRTIO_MEM_STATE_UNPLUGGED)
			dev_err(dev, "0x%llx: state unknown after a short UNPLUG response; it stays out of Linux (a reload resets the device)\n",
				addr + off);
	}
	return 0;
}

/* One PLUG or UNPLUG request for at most U16_MAX device blocks. */
static int vmem_change_one(struct vmem *vm, u16 type, u64 addr, u64 size)
{
	struct device *dev = &vm->vdev->dev;
	int resp, state;

	resp = vmem_send(vm, type, addr, size / vm->dev_block_size, NULL);
	dev_dbg(dev, "%s 0x%llx-0x%llx: %s\n", vmem_req_name(type), addr,
		addr + size - 1, resp < 0 ? "no valid response" : vmem_resp_name(resp));
	if (resp == -EPROTO && type == VIRTIO_MEM_REQ_UNPLUG)
		return vmem_unplug_settle(vm, addr, size);
	if (resp < 0)
		return resp == -EPROTO ? -EIO : resp;

	switch (resp) {
	case VIRTIO_MEM_RESP_ACK:
		break;
	case VIRTIO_MEM_RESP_NACK:
		/* The host lowered requested_size under us. */
		vmem_refresh(vm);
		return -EAGAIN;
	case VIRTIO_MEM_RESP_BUSY:
		return -EBUSY;
	case VIRTIO_MEM_RESP_ERROR:
		/*
		 * Requests are idempotent from our side: a range that is
		 * already in the wanted state is a success (e.g. a device that
		 * was not reset after an earlier driver's requests).
		 */
		state = vmem_explain_error(vm, type, addr, size);
		if ((type == VIRTIO_MEM_REQ_PLUG &&
		     state == VIRTIO_MEM_STATE_PLUGGED) ||
		    (type == VIRTIO_MEM_REQ_UNPLUG &&
		     state == VIRTIO_MEM_STATE_UNPLUGGED))
			break;
		return -EIO;
	default:
		dev_err(dev, "%s 0x%llx: unknown response %d\n",
			vmem_req_name(type), addr, resp);
		return -EIO;
	}
	return 0;
}

/* PLUG or UNPLUG [@addr, @addr + @size), in as few requests as possible. */
static int vmem_change(struct vmem *vm, u16 type, u64 addr, u64 size)
{
	const u64 chunk = (u64)U16_MAX * vm->dev_block_size;
	u64 done = 0;
	int ret = 0;

	if (addr < vm->addr || size > vm->size || addr - vm->addr > vm->size - size ||
	    !IS_ALIGNED(addr | size, vm->dev_block_size) || !size) {
		dev_err(&vm->vdev->dev, "%s 0x%llx+0x%llx: outside the device region\n",
			vmem_req_name(type), addr, size);
		return -EINVAL;
	}

	if (type == VIRTIO_MEM_REQ_PLUG) {
		u64 usable;

		mutex_lock(&vm->cfg_lock);
		usable = vm->usable;
		mutex_unlock(&vm->cfg_lock);
		if (addr + size > vm->addr + usable) {
			/* Has it grown meanwhile? */
			vmem_refresh(vm);
			mutex_lock(&vm->cfg_lock);
			usable = vm->usable;
			mutex_unlock(&vm->cfg_lock);
		}
		if (addr + size > vm->addr + usable) {
			dev_dbg(&vm->vdev->dev, "PLUG 0x%llx: beyond usable_region_size 0x%llx\n",
				addr, usable);
			return -ENOSPC;
		}
	}

	while (done < size) {
		u64 n = min(size - done, chunk);

		ret = vmem_change_one(vm, type, addr + done, n);
		if (ret)
			break;
		done += n;
	}

	/* Never leave a partially plugged block behind. */
	if (ret && done && type == VIRTIO_MEM_REQ_PLUG) {
		if (vmem_change(vm, VIRTIO_MEM_REQ_UNPLUG, addr, done))
			dev_warn(&vm->vdev->dev, "0x%llx-0x%llx stays plugged after a failed PLUG\n",
				 addr, addr + done - 1);
	}
	return ret;
}

static int vmem_plug(struct hotdimm_dev *hd, u64 addr, u64 size)
{
	return vmem_change(hd->priv, VIRTIO_MEM_REQ_PLUG, addr, size);
}

static int vmem_unplug(struct hotdimm_dev *hd, u64 addr, u64 size)
{
	return vmem_change(hd->priv, VIRTIO_MEM_REQ_UNPLUG, addr, size);
}

static const struct hotdimm_transport_ops vmem_ops = {
	.name = "virtio-mem",
	.plug = vmem_plug,
	.unplug = vmem_unplug,
	.resizable = false,
	/* QEMU NACKs a PLUG that would exceed the requested size. */
	.exact_plug = true,
};

/*
 * UNPLUG_ALL: the device forgets all plugged blocks and may shrink the
 * usable region (without a config interrupt). Returns 0, -EBUSY or -EIO.
 */
static int vmem_unplug_all(struct vmem *vm)
{
	struct device *dev = &vm->vdev->dev;
	u64 plugged, usable;
	int resp, state;

	resp = vmem_send(vm, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL);
	dev_dbg(dev, "UNPLUG_ALL: %s\n",
		resp < 0 ? "not sent" : vmem_resp_name(resp));
	if (resp == VIRTIO_MEM_RESP_BUSY)
		return -EBUSY;
	if (resp != VIRTIO_MEM_RESP_ACK) {
		dev_err(dev, "UNPLUG_ALL failed: %s\n",
			resp < 0 ? "not sent" : vmem_resp_name(resp));
		return -EIO;
	}

	/*
	 * The usable region may have shrunk (no config interrupt for that),
	 * and STATE only answers for ranges inside it: check what is left.
	 */
	virtio_cread_le(vm->vdev, struct virtio_mem_config, plugged_size,
			&plugged);
	virtio_cread_le(vm->vdev, struct virtio_mem_config, usable_region_size,
			&usable);
	usable = min(ALIGN_DOWN(usable, vm->dev_block_size), vm->region_size);
	state = usable ? vmem_state(vm, vm->addr, usable) :
			 VIRTIO_MEM_STATE_UNPLUGGED;
	if (plugged || state == VIRTIO_MEM_STATE_PLUGGED ||
	    state == VIRTIO_MEM_STATE_MIXED) {
		dev_err(dev, "UNPLUG_ALL acknowledged but plugged_size is 0x%llx and the usable region is %s\n",
			plugged, vmem_state_name(state));
		return -EIO;
	}
	if (state < 0)
		dev_warn(dev, "STATE after UNPLUG_ALL failed (%d), trusting plugged_size 0\n",
			 state);
	return 0;
}

/*
 * Create the hotdimm platform device; the core starts following requests.
 * The caller reports a failure (once).
 */
static int vmem_register(struct vmem *vm)
{
	struct device *dev = &vm->vdev->dev;
	struct hotdimm_pdata pdata = {
		.ops = &vmem_ops,
		.priv = vm,
		.start = vm->addr,
		.size = vm->size,
		.nid = vm->nid,
		.granularity = vm->dev_block_size,
	};
	struct platform_device *pdev;
	int ret;

	mutex_lock(&vm->cfg_lock);
	ret = vmem_read_config(vm);
	pdata.requested = min(vm->requested, vm->size);
	mutex_unlock(&vm->cfg_lock);
	if (ret)
		return ret;

	ret = hotdimm_register_device(dev, &pdata, &pdev);
	if (ret)
		return ret;

	mutex_lock(&vm->cfg_lock);
	vm->pdev = pdev;
	vm->hd = platform_get_drvdata(pdev);
	mutex_unlock(&vm->cfg_lock);
	if (!vm->hd)
		dev_warn(dev, "%s has no driver data: config changes will not reach it\n",
			 dev_name(&pdev->dev));

	dev_info(dev, "owned by hotdimm as %s: region 0x%llx-0x%llx, device block %llu KiB, node %d, requested %llu\n",
		 dev_name(&pdev->dev), vm->addr, vm->addr + vm->size - 1,
		 vm->dev_block_size / SZ_1K, vm->nid, pdata.requested);

	/* Pick up config changes that raced with the registration. */
	queue_work(system_freezable_wq, &vm->cfg_work);
	return 0;
}

/*
 * Background adoption: UNPLUG_ALL with backoff while the device answers
 * BUSY, then the registration, retried with the same backoff when it fails
 * (said once; the device stays bound to hotdimm without memory meanwhile).
 */
static void vmem_adopt_work(struct work_struct *work)
{
	struct vmem *vm = container_of(to_delayed_work(work), struct vmem,
				       adopt_work);
	struct device *dev = &vm->vdev->dev;
	int ret;

	if (!vm->adopted) {
		ret = vmem_unplug_all(vm);
		if (ret == -EBUSY) {
			dev_dbg(dev, "UNPLUG_ALL: busy\n");
			goto retry;
		}
		if (ret) {
			dev_err(dev, "giving up: cannot unplug the memory an earlier driver left plugged; reload hotdimm to try again\n");
			return;
		}
		dev_info(dev, "UNPLUG_ALL done: adopted the device\n");
		vm->adopted = true;
		vm->adopt_delay_ms = VMEM_ADOPT_MIN_MS;
	}
	ret = vmem_register(vm);
	if (!ret)
		return;
	if (vm->adopt_delay_ms == VMEM_ADOPT_MIN_MS)
		dev_err(dev, "adopted device not managed yet: creating its hotdimm device failed (%d); retrying every %u s at most\n",
			ret, VMEM_ADOPT_MAX_MS / 1000);
retry:
	vm->adopt_delay_ms = min(vm->adopt_delay_ms * 2,
				 (unsigned int)VMEM_ADOPT_MAX_MS);
	dev_dbg(dev, "%s: next try in %u ms\n",
		vm->adopted ? "registration" : "UNPLUG_ALL", vm->adopt_delay_ms);
	queue_delayed_work(system_freezable_wq, &vm->adopt_work,
			   msecs_to_jiffies(vm->adopt_delay_ms));
}

#ifdef CONFIG_PROC_VMCORE
/*
 * In a kdump kernel /proc/vmcore reads the crashed kernel's memory, this
 * device's region included. An unplugged device block must not be read
 * (with VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE the read kills the guest): ask
 * the device with STATE, one device block at a time (the last answer is
 * kept, reads are sequential), and answer "not RAM" for an unplugged block
 * and on any error.
 */
static bool vmem_vmcore_pfn_is_ram(struct vmcore_cb *cb, unsigned long pfn)
{
	struct vmem *vm = container_of(cb, struct vmem, vmcore_cb);
	u64 addr = PFN_PHYS(pfn), blk;
	bool ram;
	int state;

	if (addr < vm->addr || addr - vm->addr >= vm->region_size)
		return true;
	blk = ALIGN_DOWN(addr, vm->dev_block_size);
	mutex_lock(&vm->vmcore_lock);
	if (blk != vm->vmcore_blk) {
		state = vmem_state(vm, blk, vm->dev_block_size);
		vm->vmcore_ram = state == VIRTIO_MEM_STATE_PLUGGED;
		vm->vmcore_blk = state < 0 ? U64_MAX : blk;
		if (!vm->vmcore_ram)
			dev_dbg(&vm->vdev->dev, "vmcore: 0x%llx-0x%llx %s, not read\n",
				blk, blk + vm->dev_block_size - 1,
				state < 0 ? "of unknown state" : vmem_state_name(state));
	}
	ram = vm->vmcore_ram;
	mutex_unlock(&vm->vmcore_lock);
	return ram;
}

static void vmem_kdump_start(struct vmem *vm)
{
	mutex_init(&vm->vmcore_lock);
	vm->vmcore_blk = U64_MAX;
	vm->vmcore_cb.pfn_is_ram = vmem_vmcore_pfn_is_ram;
	vm->kdump = true;
	register_vmcore_cb(&vm->vmcore_cb);
	dev_info(&vm->vdev->dev, "kdump kernel: memory stays as the crashed kernel left it; /proc/vmcore skips unplugged device blocks\n");
}

static bool vmem_kdump_stop(struct vmem *vm)
{
	if (!vm->kdump)
		return false;
	unregister_vmcore_cb(&vm->vmcore_cb);
	return true;
}
#else
static void vmem_kdump_start(struct vmem *vm)
{
}

static bool vmem_kdump_stop(struct vmem *vm)
{
	return false;
}
#endif

/*
 * Read and check the fixed part of the config. One line naming the field
 * on failure.
 */
static int vmem_check_config(struct vmem *vm, u64 plugged)
{
	struct device *dev = &vm->vdev->dev;
	struct range pluggable = mhp_get_pluggable_range(true);
	u64 end;
	int ret;

	if (!vm->dev_block_size || !is_power_of_2(vm->dev_block_size) ||
	    vm->dev_block_size > vm->mb_size) {
		dev_err(dev, "block_size 0x%llx: not a power of two up to the memory block size 0x%llx\n",
			vm->dev_block_size, vm->mb_size);
		return -EINVAL;
	}
	if (!IS_ALIGNED(vm->addr, vm->mb_size)) {
		dev_err(dev, "addr 0x%llx: not aligned to the memory block size 0x%llx\n",
			vm->addr, vm->mb_size);
		return -EINVAL;
	}
	if (!vm->region_size || check_add_overflow(vm->addr, vm->region_size, &end)) {
		dev_err(dev, "region_size 0x%llx: empty or wraps around\n",
			vm->region_size);
		return -EINVAL;
	}
	vm->size = ALIGN_DOWN(vm->region_size, vm->mb_size);
	if (!vm->size) {
		dev_err(dev, "region_size 0x%llx: smaller than one memory block (0x%llx)\n",
			vm->region_size, vm->mb_size);
		return -EINVAL;
	}
	if (vm->addr < pluggable.start || vm->addr + vm->size - 1 > pluggable.end) {
		dev_err(dev, "addr 0x%llx/region_size 0x%llx: outside the hot-pluggable range 0x%llx-0x%llx\n",
			vm->addr, vm->size, (u64)pluggable.start, (u64)pluggable.end);
		return -EINVAL;
	}
	if (plugged > vm->region_size || !IS_ALIGNED(plugged, vm->dev_block_size)) {
		dev_err(dev, "plugged_size 0x%llx: beyond region_size or not a multiple of block_size\n",
			plugged);
		return -EINVAL;
	}
	ret = vmem_read_config(vm);
	if (ret)
		return ret;
	/*
	 * Memory that Linux already has (boot RAM, or blocks an earlier
	 * driver added and could not remove) must not be unplugged under it.
	 */
	ret = hotdimm_check_region(vm->addr, vm->size, dev_name(dev),
				   " (reboot the guest to reuse the device)");
	if (ret)
		return ret;
	if (vm->size != vm->region_size)
		dev_warn(dev, "region_size 0x%llx: not a multiple of the memory block size, the last 0x%llx bytes stay unused\n",
			 vm->region_size, vm->region_size - vm->size);
	return 0;
}

/*
 * The node of node_id, a proximity domain when VIRTIO_MEM_F_ACPI_PXM was
 * negotiated. The feature is offered only where ACPI NUMA can map it, and
 * virtio_has_feature() BUG()s for a feature the driver does not offer, so
 * it may be asked only there.
 */
static int vmem_pxm_node(struct virtio_device *vdev, u16 node_id)
{
#if defined(CONFIG_NUMA) && defined(CONFIG_ACPI_NUMA)
	if (virtio_has_feature(vdev, VIRTIO_MEM_F_ACPI_PXM))
		return pxm_to_node(node_id);
#endif
	return NUMA_NO_NODE;
}

static int vmem_probe(struct virtio_device *vdev)
{
	struct device *dev = &vdev->dev;
	struct vmem *vm;
	u64 plugged;
	u16 node_id;
	int ret;

	BUILD_BUG_ON(sizeof(struct virtio_mem_req) != 24);
	BUILD_BUG_ON(sizeof(struct virtio_mem_resp) != 10);
	BUILD_BUG_ON(offsetofend(struct virtio_mem_resp, u.state.state) !=
		     HOTDIMM_VMEM_RESP_STATE_LEN);

	if (!vdev->config->get) {
		dev_err(dev, "config space not accessible\n");
		return -EINVAL;
	}
	if (is_kdump_kernel() && !IS_ENABLED(CONFIG_PROC_VMCORE)) {
		dev_info(dev, "kdump kernel: hotdimm leaves the device alone\n");
		return -EBUSY;
	}

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return -ENOMEM;
	vm->vdev = vdev;
	vm->mb_size = memory_block_size_bytes();
	mutex_init(&vm->req_lock);
	mutex_init(&vm->cfg_lock);
	init_completion(&vm->done);
	INIT_WORK(&vm->cfg_work, vmem_cfg_work);
	INIT_DELAYED_WORK(&vm->adopt_work, vmem_adopt_work);
	vm->adopt_delay_ms = VMEM_ADOPT_MIN_MS;
	vdev->priv = vm;

	vm->vq = virtio_find_single_vq(vdev, vmem_vq_done, "guest-request");
	if (IS_ERR(vm->vq)) {
		ret = PTR_ERR(vm->vq);
		dev_err(dev, "cannot set up the request queue: %d\n", ret);
		goto err_free;
	}

	virtio_cread_le(vdev, struct virtio_mem_config, block_size,
			&vm->dev_block_size);
	virtio_cread_le(vdev, struct virtio_mem_config, node_id, &node_id);
	virtio_cread_le(vdev, struct virtio_mem_config, addr, &vm->addr);
	virtio_cread_le(vdev, struct virtio_mem_config, region_size,
			&vm->region_size);
	virtio_cread_le(vdev, struct virtio_mem_config, plugged_size, &plugged);

	vm->nid = vmem_pxm_node(vdev, node_id);
	if (vm->nid == NUMA_NO_NODE)
		vm->nid = memory_add_physaddr_to_nid(vm->addr);
	dev_dbg(dev, "node_id %u -> node %d\n", node_id, vm->nid);

	mutex_lock(&vm->cfg_lock);
	ret = vmem_check_config(vm, plugged);
	mutex_unlock(&vm->cfg_lock);
	if (ret)
		goto err_vqs;

	virtio_device_ready(vdev);

	/* Dumping: neither unplug nor plug anything, only answer vmcore. */
	if (is_kdump_kernel()) {
		vmem_kdump_start(vm);
		return 0;
	}

	if (plugged) {
		dev_info(dev, "%llu bytes plugged by an earlier driver: UNPLUG_ALL\n",
			 plugged);
		ret = vmem_unplug_all(vm);
		if (ret == -EBUSY) {
			dev_info(dev, "device busy: retrying UNPLUG_ALL in the background\n");
			queue_delayed_work(system_freezable_wq, &vm->adopt_work,
					   msecs_to_jiffies(vm->adopt_delay_ms));
			return 0;
		}
		if (ret)
			goto err_reset;
		dev_info(dev, "UNPLUG_ALL done: adopted the device\n");
	}

	ret = vmem_register(vm);
	if (ret) {
		dev_err(dev, "cannot create the hotdimm device (%d); reload hotdimm to try again\n",
			ret);
		goto err_reset;
	}
	return 0;

err_reset:
	virtio_reset_device(vdev);
	cancel_work_sync(&vm->cfg_work);
err_vqs:
	vdev->config->del_vqs(vdev);
err_free:
	vdev->priv = NULL;
	kfree(vm);
	return ret;
}

static void vmem_remove(struct virtio_device *vdev)
{
	struct vmem *vm = vdev->priv;
	struct device *dev = &vdev->dev;
	u64 plugged;

	cancel_delayed_work_sync(&vm->adopt_work);
	cancel_work_sync(&vm->cfg_work);

	/* The core removes all memory and unplugs each block through us. */
	if (vm->pdev) {
		mutex_lock(&vm->cfg_lock);
		vm->hd = NULL;
		mutex_unlock(&vm->cfg_lock);
		hotdimm_unregister_device(vm->pdev);
		vm->pdev = NULL;
	}

	/* In a kdump kernel, what is plugged is the crashed kernel's memory. */
	if (vmem_kdump_stop(vm))
		plugged = 0;
	else
		virtio_cread_le(vdev, struct virtio_mem_config, plugged_size,
				&plugged);
	if (plugged) {
		/*
		 * Unplugging memory that Linux still has would pull it from
		 * under the kernel: only do it when none is left.
		 */
		if (region_intersects(vm->addr, vm->size, IORESOURCE_SYSTEM_RAM,
				      IORES_DESC_NONE) == REGION_DISJOINT &&
		    !vmem_unplug_all(vm))
			dev_info(dev, "UNPLUG_ALL for %llu bytes the core left plugged\n",
				 plugged);
		else
			dev_warn(dev, "%llu bytes remain plugged; a reloaded driver adopts them with UNPLUG_ALL once Linux no longer uses them\n",
				 plugged);
	}

	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	dev_info(dev, "released by hotdimm\n");
	vdev->priv = NULL;
	kfree(vm);
}

#ifdef CONFIG_PM_SLEEP
/* Hibernation would lose the plugged state: refuse, like the in-tree driver. */
static int vmem_freeze(struct virtio_device *vdev)
{
	dev_err(&vdev->dev, "suspend/hibernation with virtio-mem is not supported\n");
	return -EPERM;
}

static int vmem_restore(struct virtio_device *vdev)
{
	return -EPERM;
}
#endif

static const unsigned int vmem_features[] = {
#if defined(CONFIG_NUMA) && defined(CONFIG_ACPI_NUMA)
	VIRTIO_MEM_F_ACPI_PXM,
#endif
	/* We never touch unplugged memory, so we can promise it. */
	VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE,
};

static const struct virtio_device_id vmem_id_table[] = {
	{ VIRTIO_ID_MEM, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vmem_id_table);

static struct virtio_driver vmem_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vmem_id_table,
	.feature_table = vmem_features,
	.feature_table_size = ARRAY_SIZE(vmem_features),
	.probe = vmem_probe,
	.remove = vmem_remove,
	.config_changed = vmem_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = vmem_freeze,
	.restore = vmem_restore,
#endif
};

/*
 * A virtio device has one driver: whichever of hotdimm and the in-tree
 * virtio_mem registered first took it. Say so for devices another driver
 * owns, so that dmesg explains why hotdimm does not manage them.
 */
static int vmem_report_owner(struct device *dev, void *data)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct device_driver *drv;

	if (vdev->id.device != VIRTIO_ID_MEM)
		return 0;
	drv = READ_ONCE(dev->driver);
	/* Not dev_warn(): that would prefix the other driver's name. */
	if (drv && drv != &vmem_driver.driver)
		pr_warn("%s: virtio-mem device owned by driver %s, not hotdimm: unbind it or keep %s from loading (see /etc/modprobe.d/hotdimm.conf)\n",
			dev_name(dev), drv->name, drv->name);
	return 0;
}

int hotdimm_virtio_init(void)
{
	int ret;

	ret = register_virtio_driver(&vmem_driver);
	if (ret) {
		pr_err("cannot register the virtio-mem driver: %d\n", ret);
		return ret;
	}
	bus_for_each_dev(vmem_driver.driver.bus, NULL, NULL, vmem_report_owner);
	return 0;
}

void hotdimm_virtio_exit(void)
{
	unregister_virtio_driver(&vmem_driver);
}
