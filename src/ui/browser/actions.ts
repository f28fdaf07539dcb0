/** The local controls' actions (as `/v1/cluster/nodes/:id/:action` takes them). */
export type LocalAction = 'stop' | 'pause' | 'resume' | 'restart' | 'cut' | 'heal';
