// The log view's scrolling (Runs/Ui/Log/LogPanel.razor). The server renders only the rows around what is shown, between
// two spacers, and says which on the log element: data-rows (all rows), data-first/data-last (those rendered),
// data-follow, data-jump. This file sizes the spacers so the scroll bar stands for the whole log, asks the server for
// the rows the viewport comes near (Viewport), keeps what the reader looks at in place when rows come and go, stays at
// the bottom while following, and turns line-number clicks and #L123 addresses into calls. Every row is one line high.
const MAX_PX = 15_000_000; // spacers are scaled down past this, well below browsers' limit on an element's height
const EDGE = 40; // rows: ask for more when the viewport comes this close to an edge of what is rendered
const views = new WeakMap();

export function init(el, dotnet) {
    views.set(el, new LogView(el, dotnet));
    return location.hash || null;
}

export function dispose(el) {
    views.get(el)?.dispose();
    views.delete(el);
}

class LogView {
    constructor(el, dotnet) {
        this.el = el;
        this.dotnet = dotnet;
        this.top = el.querySelector('.bs-log-pad-top');
        this.bottom = el.querySelector('.bs-log-pad-bottom');
        this.rows = el.querySelector('.bs-log-rows');
        this.rowHeight = 20;
        this.scale = 1;
        this.anchor = null;
        this.jump = null;
        this.asked = null;
        this.busy = false;
        this.again = false;
        this.unfollowing = false; // scrolled away from the bottom; the server has not said it stopped following yet
        this.expectedTop = -1;
        this.frame = 0;
        this.onScroll = () => {
            if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.scrolled(); });
        };
        this.onClick = e => this.clicked(e);
        this.onHash = () => this.hashChanged();
        this.onKey = e => this.key(e);
        this.onResize = () => { this.fit(); this.check(); };
        el.addEventListener('scroll', this.onScroll, { passive: true });
        el.addEventListener('click', this.onClick);
        window.addEventListener('hashchange', this.onHash);
        window.addEventListener('resize', this.onResize);
        document.addEventListener('keydown', this.onKey);
        this.observer = new MutationObserver(() => this.rendered());
        this.observer.observe(el, {
            subtree: true, childList: true, attributes: true,
            attributeFilter: ['data-rows', 'data-first', 'data-last', 'data-follow', 'data-jump'],
        });
        this.fit();
        this.rendered();
    }

    dispose() {
        this.observer.disconnect();
        this.el.removeEventListener('scroll', this.onScroll);
        this.el.removeEventListener('click', this.onClick);
        window.removeEventListener('hashchange', this.onHash);
        window.removeEventListener('resize', this.onResize);
        document.removeEventListener('keydown', this.onKey);
    }

    // The log fills the window below its toolbar (at least a few lines on a small screen).
    fit() {
        const top = this.el.getBoundingClientRect().top + window.scrollY;
        this.el.style.height = Math.max(280, window.innerHeight - top - 40) + 'px';
    }

    // After each render (a mutation observer runs before the browser paints): spacers, then where to scroll.
    rendered() {
        const d = this.el.dataset;
        this.count = Number(d.rows || 0);
        this.first = Number(d.first || 0);
        this.last = Number(d.last ?? -1);
        const row = this.rows.firstElementChild;
        if (row && row.offsetHeight) this.rowHeight = row.offsetHeight;
        this.scale = Math.max(1, this.count * this.rowHeight / MAX_PX);
        this.top.style.height = (this.first * this.rowHeight / this.scale) + 'px';
        this.bottom.style.height = (Math.max(0, this.count - this.last - 1) * this.rowHeight / this.scale) + 'px';
        if (d.follow !== 'true') this.unfollowing = false;
        const follow = d.follow === 'true' && !this.unfollowing;
        const jump = d.jump || null;
        if (jump && jump !== this.jump) {
            this.jump = jump;
            const key = jump.split(':')[0];
            const target = key === 'end' ? null : this.rows.querySelector(`[data-key="${key}"]`);
            if (key === 'end') this.scrollTo(this.el.scrollHeight);
            else if (target) this.scrollTo(target.offsetTop - this.el.clientHeight / 3);
        } else if (follow) {
            this.scrollTo(this.el.scrollHeight);
        } else if (this.anchor) {
            const target = this.rows.querySelector(`[data-key="${this.anchor.key}"]`);
            if (target) this.scrollTo(target.offsetTop - this.anchor.delta);
        }
        this.remember();
        this.check();
    }

    scrolled() {
        const el = this.el;
        const programmatic = this.expectedTop >= 0 && Math.abs(el.scrollTop - this.expectedTop) <= 1;
        this.expectedTop = -1;
        const following = this.el.dataset.follow === 'true' && !this.unfollowing;
        if (!programmatic && following && el.scrollHeight - el.clientHeight - el.scrollTop > this.rowHeight * 2) {
            this.unfollowing = true;
            this.call('Unfollow');
        }
        this.remember();
        this.check();
    }

    scrollTo(y) {
        const top = Math.max(0, Math.min(y, this.el.scrollHeight - this.el.clientHeight));
        if (Math.abs(this.el.scrollTop - top) < 1) return;
        this.expectedTop = Math.round(top);
        this.el.scrollTop = top;
    }

    // The row at the top of the viewport and how far from it the viewport starts, to keep it in place across renders.
    remember() {
        const s = this.el.scrollTop;
        const children = this.rows.children;
        let lo = 0, hi = children.length - 1, found = null;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            const child = children[mid];
            if (child.offsetTop + child.offsetHeight > s) { found = child; hi = mid - 1; } else lo = mid + 1;
        }
        this.anchor = found && found.dataset.key ? { key: found.dataset.key, delta: found.offsetTop - s } : null;
    }

    rowAt(y) {
        const h = this.rowHeight, top = this.top.offsetHeight, block = this.rows.offsetHeight;
        let row;
        if (y < top) row = Math.floor(y * this.scale / h);
        else if (y < top + block) row = this.first + Math.floor((y - top) / h);
        else row = this.last + 1 + Math.floor((y - top - block) * this.scale / h);
        return Math.max(0, Math.min(this.count - 1, row));
    }

    // Asks for the rows in view when they come near an edge of what is rendered (one request at a time).
    check() {
        if (this.count === 0) return;
        const a = this.rowAt(this.el.scrollTop);
        const b = this.rowAt(this.el.scrollTop + this.el.clientHeight - 1);
        const near = (a < this.first + EDGE && this.first > 0) || (b > this.last - EDGE && this.last < this.count - 1);
        if (!near) return;
        if (this.busy) { this.again = true; return; }
        const key = `${a}:${b}:${this.count}`;
        if (key === this.asked) return;
        this.asked = key;
        this.busy = true;
        this.dotnet.invokeMethodAsync('Viewport', a, b)
            .catch(() => { this.asked = null; setTimeout(() => this.check(), 1000); }) // disconnected: again once back
            .finally(() => {
                this.busy = false;
                if (this.again) { this.again = false; this.check(); }
            });
    }

    clicked(e) {
        const link = e.target.closest('a.bs-ln');
        if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
        e.preventDefault(); // before Blazor's router sees it: only the address's #L changes
        history.replaceState(history.state, '', link.href);
        this.call('LineLink', Number(link.dataset.line));
    }

    hashChanged() {
        const m = /^#L(\d+)$/.exec(location.hash);
        if (m) this.call('HashJump', Number(m[1]));
    }

    // Ctrl+F or / (outside a text field) goes to the log's search, which searches the whole log, not only what is shown.
    key(e) {
        const inField = e.target instanceof HTMLElement && (e.target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName));
        const find = ((e.ctrlKey || e.metaKey) && e.key === 'f') || (e.key === '/' && !inField && !e.ctrlKey && !e.metaKey);
        if (!find) return;
        const input = this.el.closest('.bs-logview')?.querySelector('.bs-log-search input');
        if (!input) return;
        e.preventDefault();
        input.focus();
        input.select();
    }

    call(method, ...args) {
        this.dotnet.invokeMethodAsync(method, ...args).catch(() => { });
    }
}
